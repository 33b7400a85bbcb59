import { randomUUID } from 'node:crypto';
import { type ServerResponse } from 'node:http';
import {
  ErrorCode,
  InferenceErrorCode,
  TesseraError,
  ValidationError,
  deploymentIdPathSchema,
  parseOrThrow,
  type ModelObject,
  type WarmupEvent,
} from '@tessera/contracts';
import { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type RpcClient } from '@tessera/platform/messaging';
import { type BillingView } from '../keys/billing-view.js';
import { registerAccountRoutes } from '../public-api/account-routes.js';
import { type RoutingTable } from '../routing/routing-table.js';
import { type InferencePipeline, type InferenceRoute } from './inference-pipeline.js';
import { proxyErrors, toOpenAiError } from './openai-errors.js';

/** Options for {@link registerOpenAiRoutes}. */
export interface OpenAiRoutesOptions {
  pipeline: InferencePipeline;
  billing: BillingView;
  table: RoutingTable;
  rpc: RpcClient;
  bodyLimit: number;
  /** Reports demand for a cold deployment (watching its warm-up counts as wanting it). */
  reportColdDemand(deploymentId: string): void;
}

/** Stands for a body that is not JSON (the parser hands it on; the route answers 400). */
const MALFORMED_JSON = Symbol('malformed JSON');

function malformedJson(): ValidationError {
  return new ValidationError('request body', [
    { path: '', message: 'We could not parse the JSON body of your request.' },
  ]);
}

/**
 * `GET /v1/deployments/{id}/warmup`: SSE events (`warmupEventSchema`) from cold to ready. A cold
 * deployment's watcher reports demand, so watching it is what starts it; the stream ends once an
 * instance is ready, or when the client leaves.
 */
function streamWarmup(
  response: ServerResponse,
  requestId: string,
  deploymentId: string,
  options: OpenAiRoutesOptions,
) {
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-request-id': requestId,
  });
  const send = (state: WarmupEvent['state']) => {
    const event: WarmupEvent = {
      deploymentId,
      state,
      readyInstances: options.table.instancesOf(deploymentId).length,
      at: new Date().toISOString(),
    };
    response.write(`data: ${JSON.stringify(event)}\n\n`);
  };
  if (options.table.instancesOf(deploymentId).length > 0) {
    send('ready');
    response.end();
    return;
  }
  send('cold');
  options.reportColdDemand(deploymentId);
  send('warming');
  // A comment line now and then keeps proxies and load balancers from closing an idle stream.
  const heartbeat = setInterval(() => response.write(': waiting\n\n'), 15_000);
  const stopWatching = options.table.onInstanceReady((readyDeployment) => {
    if (readyDeployment !== deploymentId) return;
    send('ready');
    finish();
  });
  const finish = () => {
    clearInterval(heartbeat);
    stopWatching();
    if (!response.writableEnded) response.end();
  };
  response.once('close', finish);
}

/** A fresh id per request: the client never picks it, since billing charges each id once. */
function newRequestId(): string {
  return `req_${randomUUID().replaceAll('-', '')}`;
}

/** Writes an error in OpenAI's shape straight onto Node's response (routes that took it over). */
export function writeOpenAiError(response: ServerResponse, err: unknown, requestId: string): void {
  const mapped = toOpenAiError(err);
  if (response.headersSent) {
    if (!response.writableEnded) response.end();
    return;
  }
  response.writeHead(mapped.status, {
    'content-type': 'application/json',
    'x-request-id': requestId,
    ...mapped.headers,
  });
  response.end(JSON.stringify(mapped.body));
}

function sendOpenAiError(reply: FastifyReply, err: unknown): FastifyReply {
  const mapped = toOpenAiError(err);
  return reply.code(mapped.status).headers(mapped.headers).type('application/json').send(mapped.body);
}

function modelObject(deployment: {
  name: string;
  created: number;
  visibility: string;
  ownerAccountId: string | null;
}): ModelObject {
  return {
    id: deployment.name,
    object: 'model',
    created: deployment.created,
    owned_by: deployment.visibility === 'public' ? 'tessera' : (deployment.ownerAccountId ?? 'tessera'),
  };
}

/**
 * The OpenAI API under `/v1`, as a Fastify plugin of its own (its error handler answers in
 * OpenAI's shape: bad JSON, too large a body, unknown routes). Generation routes take over Node's
 * response so the stream is written chunk by chunk with backpressure.
 */
export function registerOpenAiRoutes(fastify: FastifyInstance, options: OpenAiRoutesOptions): void {
  void fastify.register(
    (api, _opts, done) => {
      api.addHook('onRequest', (request, reply, next) => {
        const requestId = newRequestId();
        (request as FastifyRequest & { tesseraRequestId?: string }).tesseraRequestId = requestId;
        void reply.header('x-request-id', requestId);
        next();
      });
      // The body is parsed here, not by the framework, so a malformed one is an OpenAI-shaped 400.
      api.removeContentTypeParser('application/json');
      api.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
        try {
          done(null, JSON.parse(body as string) as unknown);
        } catch {
          done(null, MALFORMED_JSON);
        }
      });
      api.setErrorHandler((error: FastifyError, _request, reply) => {
        if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
          return sendOpenAiError(reply, proxyErrors.bodyTooLarge());
        // The framework's own refusals (an unsupported content type, a malformed header): the client's fault.
        if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
          return reply.code(400).send({
            error: { message: error.message, type: 'invalid_request_error', param: null, code: null },
          });
        }
        return sendOpenAiError(reply, error);
      });
      api.setNotFoundHandler((request, reply) =>
        sendOpenAiError(
          reply,
          new TesseraError(
            InferenceErrorCode.RouteNotFound,
            `Unknown request URL: ${request.method} ${request.url}.`,
          ),
        ),
      );

      const generation = (route: InferenceRoute) => async (request: FastifyRequest, reply: FastifyReply) => {
        const requestId =
          (request as FastifyRequest & { tesseraRequestId?: string }).tesseraRequestId ?? newRequestId();
        reply.hijack();
        try {
          if (request.body === MALFORMED_JSON) throw malformedJson();
          await options.pipeline.serve(
            route,
            requestId,
            request.headers.authorization,
            request.body,
            reply.raw,
          );
        } catch (err) {
          writeOpenAiError(reply.raw, err, requestId);
        }
      };
      api.post('/chat/completions', { bodyLimit: options.bodyLimit }, generation('chat'));
      api.post('/completions', { bodyLimit: options.bodyLimit }, generation('completions'));
      api.post('/embeddings', { bodyLimit: options.bodyLimit }, generation('embeddings'));

      api.get('/models', (request, reply) => {
        try {
          const caller = options.billing.authenticate(request.headers.authorization, 'inference');
          const data = options.table.deploymentsVisibleTo(caller.accountId).map(modelObject);
          return reply.send({ object: 'list', data });
        } catch (err) {
          return sendOpenAiError(reply, err);
        }
      });
      api.get<{ Params: { model: string } }>('/models/:model', (request, reply) => {
        try {
          const caller = options.billing.authenticate(request.headers.authorization, 'inference');
          const deployment = options.table.deploymentFor(request.params.model, caller.accountId);
          if (!deployment) throw proxyErrors.modelNotFound(request.params.model);
          return reply.send(modelObject(deployment));
        } catch (err) {
          return sendOpenAiError(reply, err);
        }
      });
      api.get<{ Params: { deploymentId: string } }>('/deployments/:deploymentId/warmup', (request, reply) => {
        const requestId =
          (request as FastifyRequest & { tesseraRequestId?: string }).tesseraRequestId ?? newRequestId();
        try {
          const caller = options.billing.authenticate(request.headers.authorization, 'inference');
          const { deploymentId } = parseOrThrow(deploymentIdPathSchema, request.params, 'path');
          if (!options.table.deploymentById(deploymentId, caller.accountId)) {
            throw new TesseraError(ErrorCode.NotFound, `No deployment ${deploymentId}.`);
          }
          reply.hijack();
          streamWarmup(reply.raw, requestId, deploymentId, options);
        } catch (err) {
          return sendOpenAiError(reply, err);
        }
        return reply;
      });
      registerAccountRoutes(api, options.billing, options.rpc);
      done();
    },
    { prefix: '/v1' },
  );
}

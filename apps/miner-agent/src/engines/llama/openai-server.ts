import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isValidationError, parseOrThrow } from '@tessera/contracts';
import type { Logger } from 'pino';
import { BodyTooLargeError, readBody } from '../../http/read-body.js';
import { SseWriter } from '../../http/sse-writer.js';
import { OpenAiError, openAiErrors, sendOpenAiError } from '../../openai/openai-error.js';
import {
  ContextLengthError,
  EngineBusyError,
  type GenerationInput,
  type LlamaModelHost,
} from './llama-model-host.js';
import {
  chatCompletionRequestSchema,
  completionRequestSchema,
  embeddingRequestSchema,
  stopStrings,
  usageOf,
  type Usage,
} from './openai-schemas.js';

const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Options for {@link createOpenAiHandler}. */
export interface OpenAiServerOptions {
  host: LlamaModelHost;
  /** The model name requests must ask for (and answers carry). */
  servedName: string;
  logger: Logger;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * An OpenAI-compatible HTTP API over one loaded model: `/v1/chat/completions`,
 * `/v1/completions` (both with SSE streaming), `/v1/embeddings`, `/v1/models`, and `/health`.
 * Plain `node:http`: it runs on loopback inside the miner-agent, and standalone as a process.
 */
export function createOpenAiHandler(options: OpenAiServerOptions): Handler {
  const { host, servedName, logger } = options;
  const routes: Record<
    string,
    (req: IncomingMessage, res: ServerResponse, signal: AbortSignal) => Promise<void>
  > = {
    'GET /health': async (_req, res) => sendJson(res, 200, { status: 'ok' }),
    'GET /v1/models': async (_req, res) =>
      sendJson(res, 200, {
        object: 'list',
        data: [{ id: servedName, object: 'model', created: 0, owned_by: 'tessera-miner' }],
      }),
    'POST /v1/chat/completions': async (req, res, signal) => {
      const request = parseOrThrow(
        chatCompletionRequestSchema,
        await readJson(req),
        'chat completion request',
      );
      requireModel(request.model);
      const chat = host.renderChat(request.messages);
      await generate(res, signal, 'chat', {
        input: {
          promptTokens: chat.tokens,
          maxTokens: request.max_completion_tokens ?? request.max_tokens ?? undefined,
          temperature: request.temperature ?? 1,
          topP: request.top_p ?? undefined,
          seed: request.seed ?? undefined,
          stops: [...stopStrings(request.stop), ...chat.stops],
        },
        stream: request.stream === true,
        includeUsage: request.stream_options?.include_usage === true,
        promptParam: 'messages',
      });
    },
    'POST /v1/completions': async (req, res, signal) => {
      const request = parseOrThrow(completionRequestSchema, await readJson(req), 'completion request');
      requireModel(request.model);
      const prompt = typeof request.prompt === 'string' ? request.prompt : (request.prompt[0] ?? '');
      await generate(res, signal, 'text', {
        input: {
          promptTokens: host.tokenizePrompt(prompt),
          maxTokens: request.max_tokens,
          temperature: request.temperature ?? 1,
          topP: request.top_p ?? undefined,
          seed: request.seed ?? undefined,
          stops: stopStrings(request.stop),
        },
        stream: request.stream === true,
        includeUsage: request.stream_options?.include_usage === true,
        promptParam: 'prompt',
      });
    },
    'POST /v1/embeddings': async (req, res) => {
      const request = parseOrThrow(embeddingRequestSchema, await readJson(req), 'embedding request');
      requireModel(request.model);
      const inputs = typeof request.input === 'string' ? [request.input] : request.input;
      const { vectors, promptTokens } = await withContextParam('input', () => host.embed(inputs));
      sendJson(res, 200, {
        object: 'list',
        model: servedName,
        data: vectors.map((vector, index) => ({
          object: 'embedding',
          index,
          embedding:
            request.encoding_format === 'base64'
              ? Buffer.from(new Float32Array(vector).buffer).toString('base64')
              : vector,
        })),
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
      });
    },
  };

  function requireModel(model: string): void {
    if (model !== servedName) throw openAiErrors.modelNotFound(model);
  }

  async function withContextParam<T>(param: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof ContextLengthError) {
        throw openAiErrors.contextLengthExceeded(err.promptTokens, err.contextSize, param);
      }
      throw err;
    }
  }

  async function generate(
    res: ServerResponse,
    signal: AbortSignal,
    kind: 'chat' | 'text',
    job: { input: GenerationInput; stream: boolean; includeUsage: boolean; promptParam: string },
  ): Promise<void> {
    const id = `${kind === 'chat' ? 'chatcmpl' : 'cmpl'}-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const object = kind === 'chat' ? 'chat.completion' : 'text_completion';
    const promptTokens = job.input.promptTokens.length;
    const choice = (text: string, finishReason: string | null, first: boolean): object =>
      kind === 'chat'
        ? {
            index: 0,
            delta: first ? { role: 'assistant', content: text } : text === '' ? {} : { content: text },
            logprobs: null,
            finish_reason: finishReason,
          }
        : { index: 0, text, logprobs: null, finish_reason: finishReason };

    if (!job.stream) {
      let text = '';
      const result = await withContextParam(job.promptParam, () =>
        host.generate(
          job.input,
          async (piece) => {
            text += piece;
          },
          signal,
        ),
      );
      const usage = usageOf(promptTokens, result.completionTokens);
      sendJson(res, 200, {
        id,
        object,
        created,
        model: servedName,
        choices: [
          kind === 'chat'
            ? {
                index: 0,
                message: { role: 'assistant', content: text },
                logprobs: null,
                finish_reason: result.finishReason,
              }
            : { index: 0, text, logprobs: null, finish_reason: result.finishReason },
        ],
        usage,
      });
      return;
    }

    const sse = new SseWriter(res);
    const chunk = (choices: object[], usage?: Usage): object => ({
      id,
      object: kind === 'chat' ? 'chat.completion.chunk' : 'text_completion',
      created,
      model: servedName,
      choices,
      ...(usage === undefined ? {} : { usage }),
    });
    // The stream (status 200) begins with the first piece of text: a refusal before it (busy,
    // prompt too long) is still a plain error status, which lets a router try another instance.
    let started = false;
    const begin = async (): Promise<void> => {
      if (started) return;
      started = true;
      sse.start();
      // A chat stream announces the assistant's role first, as OpenAI's does.
      if (kind === 'chat') await sse.send(chunk([choice('', null, true)]));
    };
    try {
      const result = await withContextParam(job.promptParam, () =>
        host.generate(
          job.input,
          async (piece) => {
            await begin();
            await sse.send(chunk([choice(piece, null, false)]));
          },
          signal,
        ),
      );
      await begin();
      await sse.send(chunk([choice('', result.finishReason, false)]));
      if (job.includeUsage) await sse.send(chunk([], usageOf(promptTokens, result.completionTokens)));
      await sse.done();
    } catch (err) {
      if (!started) throw err;
      // The status line is gone: say it in the stream, as OpenAI does, and end cleanly.
      await sse.send(toOpenAiError(err, logger).toBody());
      await sse.done();
    }
  }

  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = routes[`${req.method ?? 'GET'} ${path}`];
    const aborted = new AbortController();
    // 'close' before the response finished means the client went away: stop generating for it.
    res.once('close', () => {
      if (!res.writableFinished) aborted.abort();
    });
    if (!route) {
      sendOpenAiError(res, openAiErrors.routeNotFound(req.method ?? 'GET', path));
      return;
    }
    route(req, res, aborted.signal).catch((err: unknown) => sendOpenAiError(res, toOpenAiError(err, logger)));
  };
}

function toOpenAiError(err: unknown, logger: Logger): OpenAiError {
  if (err instanceof OpenAiError) return err;
  if (isValidationError(err)) return openAiErrors.invalidRequest(err);
  if (err instanceof BodyTooLargeError) return openAiErrors.bodyTooLarge(err.limitBytes);
  if (err instanceof EngineBusyError) return openAiErrors.busy();
  logger.error({ err }, 'llama engine request failed');
  return openAiErrors.internal();
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const body = await readBody(req, MAX_BODY_BYTES);
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw openAiErrors.invalidJson();
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** A running OpenAI server on loopback. */
export interface ListeningServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/** Serves `handler` on `host:port` (port 0: any free one). */
export async function listen(handler: Handler, host: string, port: number): Promise<ListeningServer> {
  const server = createServer(handler);
  // Keep-alive longer than the data plane's agent, so the proxy never reuses a socket we are closing.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    server,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

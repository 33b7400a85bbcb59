import {
  Agent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { InstanceManager } from '../instances/instance-manager.js';
import { openAiErrors, sendOpenAiError } from '../openai/openai-error.js';

/** Headers that belong to one connection and must not be forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

function forwardable(
  headers: IncomingHttpHeaders,
  drop: readonly string[] = [],
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || drop.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/**
 * `/instances/<id>/v1/*` → the instance engine's `/v1/*` on loopback, request and response
 * streamed through as they come (SSE chunk by chunk); `pipeline` carries backpressure both ways
 * and tears the other side down when one side goes away. Authorised by the instance's bearer
 * token only: no signatures on this path.
 */
export class DataPlaneProxy {
  // Keep-alive to the engines: a connection per concurrent request, reused afterwards.
  private readonly agent = new Agent({ keepAlive: true, keepAliveMsecs: 10_000 });

  constructor(
    private readonly instances: InstanceManager,
    private readonly logger: Logger,
  ) {}

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    instanceId: string,
    enginePath: string,
  ): Promise<void> {
    const route = this.instances.route(instanceId, bearerToken(req.headers.authorization));
    switch (route.kind) {
      case 'not-found':
        return sendOpenAiError(res, openAiErrors.instanceNotFound(instanceId));
      case 'unauthorized':
        return sendOpenAiError(res, openAiErrors.invalidToken(), { 'www-authenticate': 'Bearer' });
      case 'not-ready':
        return sendOpenAiError(res, openAiErrors.instanceNotReady(instanceId, route.state), {
          'retry-after': '5',
        });
      case 'ready':
        return this.forward(req, res, new URL(enginePath, route.baseUrl), instanceId);
    }
  }

  private async forward(
    req: IncomingMessage,
    res: ServerResponse,
    target: URL,
    instanceId: string,
  ): Promise<void> {
    const upstream = httpRequest(target, {
      method: req.method,
      agent: this.agent,
      // The instance token is ours; the engine never sees it.
      headers: forwardable(req.headers, ['authorization']),
    });
    const responded = new Promise<IncomingMessage>((resolve, reject) => {
      upstream.once('response', resolve);
      upstream.once('error', reject);
    });
    responded.catch(() => undefined);
    try {
      await pipeline(req, upstream);
      const answer = await responded;
      res.writeHead(answer.statusCode ?? 502, forwardable(answer.headers));
      // Headers first: a streaming client sees the status before the first token.
      res.flushHeaders();
      await pipeline(answer, res);
    } catch (err) {
      if (res.headersSent) {
        // Mid-answer: the client or the engine went away; pipeline already closed both ends.
        this.logger.debug({ err, instanceId }, 'data plane stream ended early');
        res.destroy();
        return;
      }
      this.logger.warn({ err, instanceId }, 'instance engine did not answer');
      upstream.destroy();
      sendOpenAiError(res, openAiErrors.upstreamFailed());
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

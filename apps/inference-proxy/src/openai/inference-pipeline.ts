import { once } from 'node:events';
import { type ServerResponse } from 'node:http';
import {
  InferenceErrorCode,
  chatCompletionRequestSchema,
  completionRequestSchema,
  embeddingRequestSchema,
  instanceToken,
  isTesseraError,
  parseOrThrow,
  type Clock,
} from '@tessera/contracts';
import { isBrokenCircuitError } from 'cockatiel';
import { type Logger } from 'pino';
import { Agent, request, type Dispatcher } from 'undici';
import { type z } from 'zod';
import { type CreditGrants, type Reservation } from '../credit/credit-grants.js';
import { type DemandTracker } from '../demand/demand-tracker.js';
import { tokenCost, type BillingView, type Caller } from '../keys/billing-view.js';
import { type RateLimiter } from '../limits/rate-limiter.js';
import { type RequestMeter } from '../metering/request-meter.js';
import {
  countPromptTokens,
  countTextTokens,
  meteredTokens,
  promptTokenBound,
  type PromptSource,
} from '../metering/token-count.js';
import { type InstanceLease, type InstanceSelector } from '../routing/instance-selector.js';
import { type RoutingTable } from '../routing/routing-table.js';
import { proxyErrors, toOpenAiError } from './openai-errors.js';

/** The three generation routes and what differs between them. */
export const inferenceRoutes = {
  chat: { path: '/chat/completions', schema: chatCompletionRequestSchema },
  completions: { path: '/completions', schema: completionRequestSchema },
  embeddings: { path: '/embeddings', schema: embeddingRequestSchema },
} as const;
export type InferenceRoute = keyof typeof inferenceRoutes;

/** Options for {@link InferencePipeline}. */
export interface InferencePipelineOptions {
  billing: BillingView;
  table: RoutingTable;
  selector: InstanceSelector;
  credit: CreditGrants;
  limiter: RateLimiter;
  meter: RequestMeter;
  demand: DemandTracker;
  instanceTokenSecret: string;
  defaultMaxTokens: number;
  attempts: number;
  upstreamIdleTimeoutMs: number;
  requestTimeoutMs: number;
  clock: Clock;
  logger: Logger;
}

/** What one request asked for, once parsed and priced. */
interface Admitted {
  route: InferenceRoute;
  requestId: string;
  caller: Caller;
  model: string;
  deploymentId: string;
  streamed: boolean;
  clientWantsUsage: boolean;
  upstreamBody: string;
  parsed: Record<string, unknown>;
  reservation: Reservation;
  estimatedTokens: number;
  rateHeaders: Record<string, string>;
  startedAt: number;
}

/** Token counts and text an answer carried, however it ended. */
interface Outcome {
  promptTokens: number | undefined;
  completionTokens: number | undefined;
  text: string;
  firstTokenAt: number | null;
  status: 'succeeded' | 'failed' | 'cancelled';
  /** The engine sent an error event inside its stream. */
  engineError: boolean;
  /** Metered and settled already (a request ends once, whichever path ends it). */
  finished: boolean;
  lease: InstanceLease | undefined;
}

/** An instance's answer, its status line read and (for 200) its first chunk in hand. */
interface Opened {
  answer: Dispatcher.ResponseData;
  chunks: AsyncIterator<Buffer>;
  first: IteratorResult<Buffer>;
}

/** An upstream answer that should go to another instance (5xx, 429, refused connection, empty stream). */
class RetryableUpstreamError extends Error {
  override readonly name = 'RetryableUpstreamError';
}

/** The request path of `/v1/chat/completions`, `/v1/completions` and `/v1/embeddings`. */
export class InferencePipeline {
  private readonly agent: Dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 256 });
  /** Each instance's bearer token, an HMAC that never changes for the instance: made once, not per request. */
  private readonly instanceTokens = new Map<string, string>();

  constructor(private readonly options: InferencePipelineOptions) {}

  /**
   * Serves one request onto `response` (Node's; the HTTP framework hands it over). Throws only
   * before anything was written: the caller maps the error.
   */
  async serve(
    route: InferenceRoute,
    requestId: string,
    authorization: string | undefined,
    body: unknown,
    response: ServerResponse,
  ): Promise<void> {
    const admitted = await this.admit(route, requestId, authorization, body);
    const controller = new AbortController();
    const onClose = () => {
      if (!response.writableFinished) controller.abort(new Error('client closed the connection'));
    };
    response.once('close', onClose);
    const timer = setTimeout(() => controller.abort(proxyErrors.timeout()), this.options.requestTimeoutMs);
    const outcome: Outcome = {
      promptTokens: undefined,
      completionTokens: undefined,
      text: '',
      firstTokenAt: null,
      status: 'failed',
      engineError: false,
      finished: false,
      lease: undefined,
    };
    this.options.demand.started(admitted.deploymentId);
    try {
      const opened = await this.openUpstream(admitted, controller.signal);
      const { lease, answer } = opened;
      outcome.lease = lease;
      if (answer.statusCode !== 200) {
        // The engine refused the request itself (4xx): pass its OpenAI-shaped answer on, charge nothing.
        const text = await answer.body.text();
        response.writeHead(answer.statusCode, this.headers(admitted, 'application/json'));
        response.end(text);
        outcome.status = 'failed';
        return;
      }
      if (admitted.streamed) await this.relayStream(admitted, opened, response, outcome, controller.signal);
      else await this.relayJson(admitted, opened, response, outcome);
      this.options.selector.rememberAffinity(affinityKeyOf(admitted.parsed), lease.instance.instanceId);
    } catch (err) {
      if (isTesseraError(err, InferenceErrorCode.NoCapacity))
        this.options.demand.rejectedForCapacity(admitted.deploymentId);
      if (!response.headersSent) {
        this.finish(admitted, outcome);
        throw controller.signal.aborted && isTimeout(controller.signal.reason)
          ? controller.signal.reason
          : err;
      }
      outcome.status =
        controller.signal.aborted && !isTimeout(controller.signal.reason) ? 'cancelled' : 'failed';
      if (!response.writableEnded) response.end();
    } finally {
      clearTimeout(timer);
      response.off('close', onClose);
      if (response.headersSent || outcome.lease) this.finish(admitted, outcome);
      this.options.demand.ended(admitted.deploymentId);
    }
  }

  /** Validation, key, model, limits, money: everything that may refuse before any upstream call. */
  private async admit(
    route: InferenceRoute,
    requestId: string,
    authorization: string | undefined,
    body: unknown,
  ): Promise<Admitted> {
    const caller = this.options.billing.authenticate(authorization, 'inference');
    const schema: z.ZodType = inferenceRoutes[route].schema;
    const parsed = parseOrThrow(schema, body, 'request body') as Record<string, unknown> & {
      model: string;
      stream?: boolean | null;
      stream_options?: { include_usage?: boolean | null } | null;
      max_tokens?: number | null;
      max_completion_tokens?: number | null;
      n?: number | null;
    };
    const deployment = this.options.table.deploymentFor(parsed.model, caller.accountId);
    if (!deployment) throw proxyErrors.modelNotFound(parsed.model);
    this.options.demand.arrived(deployment.deploymentId);

    const streamed = route !== 'embeddings' && parsed.stream === true;
    const upstream: Record<string, unknown> = { ...parsed };
    let completionBound = 0;
    if (route !== 'embeddings') {
      const asked = parsed.max_completion_tokens ?? parsed.max_tokens ?? undefined;
      const maxTokens = asked ?? (route === 'completions' ? 16 : this.options.defaultMaxTokens);
      // The engine must not generate past what was reserved.
      if (asked === undefined) upstream['max_tokens'] = maxTokens;
      completionBound = maxTokens * (parsed.n ?? 1);
    }
    if (streamed) {
      // Every stream is metered from the engine's final usage chunk, asked for whatever the client wants.
      upstream['stream_options'] = { ...(parsed.stream_options ?? {}), include_usage: true };
    }
    const promptBound = promptTokenBound(parsed as PromptSource);
    const price = this.options.billing.priceOf(parsed.model);
    const worstCase = price ? tokenCost(price, promptBound, completionBound) : 0n;
    const estimatedTokens = Math.ceil(promptBound / 4) + completionBound;
    const now = this.options.clock.now().getTime();
    const rateHeaders = this.options.limiter.admit(caller.keyId, caller.limits, estimatedTokens, now);
    let reservation: Reservation;
    try {
      reservation = await this.options.credit.reserve(caller.accountId, worstCase);
    } catch (err) {
      this.options.limiter.correct(caller.keyId, -estimatedTokens, now);
      throw err;
    }
    return {
      route,
      requestId,
      caller,
      model: parsed.model,
      deploymentId: deployment.deploymentId,
      streamed,
      clientWantsUsage: parsed.stream_options?.include_usage === true,
      upstreamBody: JSON.stringify(upstream),
      parsed,
      reservation,
      estimatedTokens,
      rateHeaders,
      startedAt: performance.now(),
    };
  }

  /**
   * Tries up to `attempts` instances; nothing is sent to the client until an instance answered
   * with its first chunk, so a failure before that moves on to the next instance unnoticed.
   */
  private async openUpstream(
    admitted: Admitted,
    signal: AbortSignal,
  ): Promise<{ lease: InstanceLease } & Opened> {
    const tried = new Set<string>();
    let lastFailure: unknown;
    for (let attempt = 1; attempt <= this.options.attempts; attempt++) {
      const lease = await this.options.selector.acquire(
        admitted.deploymentId,
        affinityKeyOf(admitted.parsed),
        tried,
      );
      tried.add(lease.instance.instanceId);
      try {
        const opened = await lease.breaker.execute(() => this.attempt(admitted, lease, signal));
        return { lease, ...opened };
      } catch (err) {
        lease.release();
        if (signal.aborted) throw signal.reason;
        lastFailure = err;
        this.options.logger.warn(
          { err, requestId: admitted.requestId, instanceId: lease.instance.instanceId, attempt },
          isBrokenCircuitError(err) ? 'instance breaker open; trying another' : 'upstream attempt failed',
        );
      }
    }
    throw proxyErrors.upstreamFailed(
      lastFailure instanceof Error ? lastFailure.message : 'no instance answered',
    );
  }

  private async attempt(admitted: Admitted, lease: InstanceLease, signal: AbortSignal): Promise<Opened> {
    const answer = await request(`${lease.instance.endpoint}${inferenceRoutes[admitted.route].path}`, {
      method: 'POST',
      dispatcher: this.agent,
      signal,
      headersTimeout: this.options.upstreamIdleTimeoutMs,
      bodyTimeout: this.options.upstreamIdleTimeoutMs,
      headers: {
        authorization: `Bearer ${this.tokenFor(lease.instance.instanceId)}`,
        'content-type': 'application/json',
        'x-request-id': admitted.requestId,
      },
      body: admitted.upstreamBody,
    });
    if (answer.statusCode >= 500 || answer.statusCode === 429 || answer.statusCode === 401) {
      // 401: this proxy's token does not open the instance — its problem, not the client's.
      const detail = (await answer.body.text()).slice(0, 500);
      throw new RetryableUpstreamError(`status ${answer.statusCode}: ${detail}`);
    }
    if (answer.statusCode !== 200)
      return { answer, chunks: noChunks(), first: { done: true, value: undefined } };
    if (!admitted.streamed) {
      // A whole JSON answer is read before anything is sent, so a failure anywhere in it still fails over.
      const whole = Buffer.from(await answer.body.arrayBuffer());
      if (whole.length === 0) throw new RetryableUpstreamError('empty answer');
      return { answer, chunks: noChunks(), first: { done: false, value: whole } };
    }
    const chunks = answer.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const first = await chunks.next();
    if (first.done) throw new RetryableUpstreamError('empty answer');
    return { answer, chunks, first };
  }

  private tokenFor(instanceId: string): string {
    let token = this.instanceTokens.get(instanceId);
    if (token === undefined) {
      // Instances come and go: an old one's token is dropped long before this holds much.
      if (this.instanceTokens.size >= 10_000) this.instanceTokens.clear();
      token = instanceToken(this.options.instanceTokenSecret, instanceId);
      this.instanceTokens.set(instanceId, token);
    }
    return token;
  }

  private async relayJson(
    admitted: Admitted,
    opened: Opened,
    response: ServerResponse,
    outcome: Outcome,
  ): Promise<void> {
    const parts: Buffer[] = [];
    for (let next = opened.first; !next.done; next = await opened.chunks.next()) parts.push(next.value);
    const text = Buffer.concat(parts).toString('utf8');
    outcome.firstTokenAt = performance.now();
    readUsage(safeJson(text), outcome);
    response.writeHead(200, this.headers(admitted, 'application/json'));
    response.end(text);
    outcome.status = 'succeeded';
  }

  /** SSE chunk by chunk; a slow client slows the upstream read (backpressure), never a buffer of the whole answer. */
  private async relayStream(
    admitted: Admitted,
    opened: Opened,
    response: ServerResponse,
    outcome: Outcome,
    signal: AbortSignal,
  ): Promise<void> {
    response.writeHead(200, {
      ...this.headers(admitted, 'text/event-stream; charset=utf-8'),
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    // No flushHeaders: the first chunk is in hand, and goes out in the same write as the headers.
    let pending = '';
    const forward = async (chunk: Buffer): Promise<void> => {
      pending += chunk.toString('utf8');
      let boundary: number;
      let out = '';
      while ((boundary = pending.indexOf('\n\n')) >= 0) {
        const frame = pending.slice(0, boundary);
        pending = pending.slice(boundary + 2);
        out += this.rewriteFrame(admitted, frame, outcome);
      }
      if (out !== '') await write(response, out);
    };
    try {
      for (let next = opened.first; !next.done; next = await opened.chunks.next()) {
        await forward(next.value);
        if (signal.aborted) break;
      }
      if (pending.trim() !== '') await write(response, this.rewriteFrame(admitted, pending, outcome));
      outcome.status = signal.aborted ? 'cancelled' : outcome.engineError ? 'failed' : 'succeeded';
    } catch (err) {
      if (signal.aborted && !isTimeout(signal.reason)) {
        outcome.status = 'cancelled';
      } else {
        // Output already went out: say so in the stream (the SDKs raise it) and end cleanly.
        outcome.status = 'failed';
        this.options.logger.warn({ err, requestId: admitted.requestId }, 'upstream failed mid-stream');
        const error = toOpenAiError(proxyErrors.upstreamFailed('the instance stopped mid-stream')).body;
        if (!response.writableEnded) response.write(`data: ${JSON.stringify(error)}\n\n`);
      }
    }
    if (!response.writableEnded) response.end();
  }

  /** One SSE frame as the client gets it: usage read (and dropped unless asked for), text counted. */
  private rewriteFrame(admitted: Admitted, frame: string, outcome: Outcome): string {
    // Engines send one `data:` line per frame; the general case joins a frame's data lines.
    const data =
      frame.startsWith('data:') && !frame.includes('\n')
        ? frame.slice(5).trimStart()
        : frame
            .split('\n')
            .filter((line) => line.startsWith('data:'))
            .map((line) => line.slice(5).trimStart())
            .join('\n');
    if (data === '' || data === '[DONE]') return `${frame}\n\n`;
    const chunk = safeJson(data);
    if (!isRecord(chunk)) return `${frame}\n\n`;
    if ('error' in chunk) outcome.engineError = true;
    const choices = Array.isArray(chunk['choices']) ? (chunk['choices'] as unknown[]) : [];
    for (const choice of choices) {
      if (!isRecord(choice)) continue;
      const delta = choice['delta'];
      const piece = isRecord(delta) ? delta['content'] : choice['text'];
      if (typeof piece === 'string' && piece !== '') {
        outcome.text += piece;
        outcome.firstTokenAt ??= performance.now();
      }
    }
    if (isRecord(chunk['usage'])) {
      readUsage(chunk, outcome);
      if (!admitted.clientWantsUsage) {
        if (choices.length === 0) return '';
        const { usage: _dropped, ...rest } = chunk;
        return `data: ${JSON.stringify(rest)}\n\n`;
      }
    }
    return `${frame}\n\n`;
  }

  private headers(admitted: Admitted, contentType: string): Record<string, string> {
    return { 'content-type': contentType, 'x-request-id': admitted.requestId, ...admitted.rateHeaders };
  }

  /** Meters, settles and frees the slot: once per request, whatever happened. */
  private finish(admitted: Admitted, outcome: Outcome): void {
    if (outcome.finished) return;
    outcome.finished = true;
    outcome.lease?.release();
    const reachedUpstream = outcome.lease !== undefined;
    const counted = admitted.route === 'embeddings' ? 0 : countTextTokens(outcome.text);
    const promptTokens = reachedUpstream
      ? meteredTokens(outcome.promptTokens, countPromptTokens(admitted.parsed as PromptSource))
      : 0;
    const completionTokens = reachedUpstream ? meteredTokens(outcome.completionTokens, counted) : 0;
    const price = this.options.billing.priceOf(admitted.model);
    const cost = price ? tokenCost(price, promptTokens, completionTokens) : 0n;
    admitted.reservation.settle(admitted.requestId, cost, admitted.model);
    const now = this.options.clock.now().getTime();
    this.options.limiter.correct(
      admitted.caller.keyId,
      promptTokens + completionTokens - admitted.estimatedTokens,
      now,
    );
    if (!reachedUpstream) return;
    const totalMs = performance.now() - admitted.startedAt;
    this.options.meter.record({
      requestId: admitted.requestId,
      accountId: admitted.caller.accountId,
      keyId: admitted.caller.keyId,
      model: admitted.model,
      promptTokens,
      completionTokens,
      streamed: admitted.streamed,
      grantId: admitted.reservation.grantId,
      minerHotkey: outcome.lease?.instance.minerHotkey ?? null,
      instanceId: outcome.lease?.instance.instanceId ?? null,
      latency: {
        firstTokenMs:
          outcome.firstTokenAt === null ? null : Math.max(0, outcome.firstTokenAt - admitted.startedAt),
        totalMs: Math.max(0, totalMs),
      },
      status: outcome.status,
    });
  }
}

/** The first 256 characters of the first message (or prompt): requests sharing it may reuse a KV cache. */
function affinityKeyOf(parsed: Record<string, unknown>): string | undefined {
  const messages = parsed['messages'];
  if (Array.isArray(messages) && messages.length > 1) {
    const content = (messages[0] as { content?: unknown }).content;
    if (typeof content === 'string' && content.length >= 64) return content.slice(0, 256);
  }
  return undefined;
}

function readUsage(body: unknown, outcome: Outcome): void {
  if (!isRecord(body) || !isRecord(body['usage'])) {
    if (isRecord(body) && Array.isArray(body['choices'])) {
      for (const choice of body['choices'] as unknown[]) {
        if (!isRecord(choice)) continue;
        const message = choice['message'];
        const text = isRecord(message) ? message['content'] : choice['text'];
        if (typeof text === 'string') outcome.text += text;
      }
    }
    return;
  }
  const usage = body['usage'];
  if (typeof usage['prompt_tokens'] === 'number') outcome.promptTokens = usage['prompt_tokens'];
  if (typeof usage['completion_tokens'] === 'number') outcome.completionTokens = usage['completion_tokens'];
  if (Array.isArray(body['choices'])) {
    for (const choice of body['choices'] as unknown[]) {
      if (!isRecord(choice)) continue;
      const message = choice['message'];
      const text = isRecord(message) ? message['content'] : undefined;
      if (typeof text === 'string') outcome.text += text;
      else if (typeof choice['text'] === 'string') outcome.text += choice['text'];
    }
  }
}

// eslint-disable-next-line require-yield -- an iterator that ends at once
async function* noChunks(): AsyncGenerator<Buffer> {
  return;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isTimeout(reason: unknown): boolean {
  return toOpenAiError(reason).status === 504;
}

/** Writes and, when the socket's buffer is full, waits for it to drain (or the client to leave). */
async function write(response: ServerResponse, text: string): Promise<void> {
  if (response.writableEnded || response.destroyed) throw new Error('client closed the connection');
  if (response.write(text)) return;
  await Promise.race([once(response, 'drain'), once(response, 'close')]);
}

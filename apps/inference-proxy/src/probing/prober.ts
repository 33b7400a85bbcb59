import { randomInt, randomUUID } from 'node:crypto';
import {
  ProbeCompleted,
  instanceToken,
  probeStreamId,
  type Clock,
  type EventDataOf,
} from '@tessera/contracts';
import { type EventStore } from '@tessera/eventstore';
import { type Logger } from 'pino';
import { request } from 'undici';
import { type RoutedInstance, type RoutingTable } from '../routing/routing-table.js';
import { type ReferenceModel } from './reference-model.js';

/** More misses than this scores 0 (Nineteen's rule). */
export const MAX_RANK_MISSES = 5;

const WORDS = [
  'the',
  'river',
  'stone',
  'light',
  'quiet',
  'city',
  'blue',
  'morning',
  'song',
  'old',
  'road',
  'winter',
];

/** Options for {@link Prober}. */
export interface ProberOptions {
  table: RoutingTable;
  store: EventStore;
  /** Reference models by the model name clients send. */
  references: ReadonlyMap<string, Promise<ReferenceModel>>;
  instanceTokenSecret: string;
  source: string;
  timeoutMs: number;
  clock: Clock;
  logger: Logger;
}

type ProbeResult = EventDataOf<typeof ProbeCompleted>;

/** What every replica probed together is asked. */
interface ProbeRequest {
  prompt: string;
  maxTokens: number;
  seed: number;
}

/**
 * What Nineteen's validators do, from the proxy: a synthetic streamed request to a ready
 * instance (random prompt, seed and length), timed for TTFT and tokens/s, then the answer judged
 * against the reference model's token ranks. Results go out as `inference.ProbeCompleted` for the
 * scorer. One probe per tick, the instance drawn weighted by its declared concurrency, so probes
 * spread over time and over the fleet the way traffic would.
 */
export class Prober {
  constructor(private readonly options: ProberOptions) {}

  /**
   * Probes one instance drawn by weight, and with it another replica of the same deployment when
   * there is one: the same prompt and seed at temperature 0 must give both the same text.
   * Resolves when the results are published.
   */
  async tick(): Promise<void> {
    const instances = this.options.table.allInstances();
    const total = instances.reduce((sum, instance) => sum + instance.concurrency, 0);
    if (total === 0) return;
    let draw = randomInt(total);
    const chosen = instances.find((instance) => (draw -= instance.concurrency) < 0) ?? instances[0]!;
    const peers = instances.filter(
      (instance) =>
        instance.deploymentId === chosen.deploymentId && instance.instanceId !== chosen.instanceId,
    );
    const request: ProbeRequest = {
      prompt: Array.from({ length: 4 + randomInt(6) }, () => WORDS[randomInt(WORDS.length)]!).join(' '),
      maxTokens: 16 + randomInt(17),
      seed: randomInt(1_000_000),
    };
    const peer = peers.length === 0 ? undefined : peers[randomInt(peers.length)]!;
    const probed = await Promise.all(
      [chosen, ...(peer ? [peer] : [])].map((instance) => this.probe(instance, request)),
    );
    if (probed.length === 2 && probed.every((result) => result.answered)) {
      const consistent = probed[0]!.text === probed[1]!.text;
      for (const { data } of probed) {
        data.consistent = consistent;
        // Without a reference, disagreeing replicas are all suspect; with one, its ranks tell who is wrong.
        if (!consistent && data.reference === 'none') {
          Object.assign(data, {
            ok: false,
            quality: 0,
            failure: 'inconsistent',
            reason: 'another replica answered the same seed differently',
          });
        }
      }
    }
    await Promise.all(
      probed.map(({ data }) =>
        this.options.store
          .append(probeStreamId(data.probeId), [ProbeCompleted.create(data)])
          .catch((err: unknown) => this.options.logger.warn({ err }, 'could not record a probe')),
      ),
    );
  }

  /** One probe, not yet published: its result, the text it got, and whether a whole answer came. */
  async probe(
    instance: RoutedInstance,
    { prompt, maxTokens, seed }: ProbeRequest,
  ): Promise<{ data: ProbeResult; text: string; answered: boolean }> {
    const started = performance.now();
    let firstAt: number | null = null;
    let lastAt = started;
    let text = '';
    let chunksWithText = 0;
    let completionTokens = 0;
    const base = {
      probeId: randomUUID(),
      instanceId: instance.instanceId,
      deploymentId: instance.deploymentId,
      minerHotkey: instance.minerHotkey,
      model: instance.model,
      source: this.options.source,
      consistent: null as boolean | null,
    };
    const finish = (result: Omit<ProbeResult, keyof typeof base | 'at'>, answered = true) => ({
      data: { ...base, ...result, at: this.options.clock.now().toISOString() } as ProbeResult,
      text,
      answered,
    });
    const failed = (failure: ProbeResult['failure'], reason: string) =>
      finish(
        {
          ok: false,
          quality: 0,
          ttftMs: firstAt === null ? null : firstAt - started,
          tokensPerSecond: null,
          completionTokens,
          rankMisses: null,
          reference: 'none',
          failure,
          reason: reason.slice(0, 2000),
        },
        false,
      );
    let sawDone = false;
    try {
      const answer = await request(`${instance.endpoint}/completions`, {
        method: 'POST',
        signal: AbortSignal.timeout(this.options.timeoutMs),
        headers: {
          authorization: `Bearer ${instanceToken(this.options.instanceTokenSecret, instance.instanceId)}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          model: instance.model,
          prompt,
          max_tokens: maxTokens,
          temperature: 0,
          seed,
          stream: true,
          stream_options: { include_usage: true },
        }),
      });
      if (answer.statusCode !== 200) {
        return await failed(
          'request-failed',
          `status ${answer.statusCode}: ${(await answer.body.text()).slice(0, 500)}`,
        );
      }
      let pending = '';
      for await (const chunk of answer.body) {
        pending += (chunk as Buffer).toString('utf8');
        let boundary: number;
        while ((boundary = pending.indexOf('\n\n')) >= 0) {
          const frame = pending.slice(0, boundary).replace(/^data:\s?/, '');
          pending = pending.slice(boundary + 2);
          if (frame === '[DONE]') {
            sawDone = true;
            continue;
          }
          const parsed = JSON.parse(frame) as {
            choices?: { text?: string }[];
            usage?: { completion_tokens?: number } | null;
          };
          const piece = parsed.choices?.[0]?.text ?? '';
          if (piece !== '') {
            firstAt ??= performance.now();
            lastAt = performance.now();
            chunksWithText++;
            text += piece;
          }
          if (typeof parsed.usage?.completion_tokens === 'number')
            completionTokens = parsed.usage.completion_tokens;
        }
      }
    } catch (err) {
      if (err instanceof SyntaxError) return failed('malformed-stream', err.message);
      const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
      return failed(
        timedOut ? 'timeout' : 'request-failed',
        err instanceof Error ? err.message : String(err),
      );
    }
    if (!sawDone) return failed('malformed-stream', 'the stream ended without [DONE]');
    completionTokens ||= chunksWithText;
    const ttftMs = firstAt === null ? null : firstAt - started;
    const tokensPerSecond =
      firstAt !== null && completionTokens > 1 && lastAt > firstAt
        ? (completionTokens - 1) / ((lastAt - firstAt) / 1000)
        : null;
    const reference = await this.options.references.get(instance.model);
    if (!reference) {
      return finish({
        ok: true,
        quality: 1,
        ttftMs,
        tokensPerSecond,
        completionTokens,
        rankMisses: null,
        reference: 'none',
        failure: null,
        reason: null,
      });
    }
    const { tokens, misses } = await reference.rankMisses(prompt, text);
    const quality = misses > MAX_RANK_MISSES || tokens === 0 ? 0 : (tokens - misses) / tokens;
    const ok = misses <= MAX_RANK_MISSES && tokens > 0;
    return finish({
      ok,
      quality,
      ttftMs,
      tokensPerSecond,
      completionTokens,
      rankMisses: misses,
      reference: 'gguf',
      failure: ok ? null : 'quality',
      reason: ok ? null : `${misses} of ${tokens} tokens outside the reference's top 10`,
    });
  }
}

import type { Llama } from 'node-llama-cpp';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModels, type TinyModels } from '../../__tests__/tiny-models.js';
import { EngineBusyError, LlamaModelHost, type GenerationInput } from './llama-model-host.js';
import { loadLlamaRuntime } from './llama-runtime.js';

/** Gives a generation that ignored backpressure ample time to run ahead (tokens take ~1 ms here). */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 200));

describe('LlamaModelHost', () => {
  let models: TinyModels;
  let llama: Llama;
  let host: LlamaModelHost;
  let input: GenerationInput;

  beforeAll(async () => {
    models = await tinyModels();
    const { path } = await models.write('host.gguf', 21);
    llama = await loadLlamaRuntime({ threads: 1, logger: pino({ level: 'silent' }) });
    host = await LlamaModelHost.load({
      llama,
      modelPath: path,
      concurrency: 1,
      contextSize: 512,
      maxContextSize: 512,
      maxQueued: 1,
      threads: 1,
    });
    input = {
      promptTokens: host.tokenizePrompt('hello world'),
      maxTokens: 400,
      temperature: 0,
      topP: undefined,
      seed: undefined,
      stops: [],
    };
  });

  afterAll(async () => {
    await host?.dispose();
    await llama?.dispose();
    await models?.cleanup();
  });

  it('generates no further token while the reader has not taken the last piece (backpressure)', async () => {
    let pieces = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const done = host.generate(
      { ...input, maxTokens: 20 },
      async () => {
        pieces++;
        if (pieces === 1) await held;
      },
      new AbortController().signal,
    );
    await settle();
    expect(pieces).toBe(1);
    release();
    const result = await done;
    expect(result.completionTokens).toBe(20);
    expect(pieces).toBeGreaterThan(1);
  });

  it('stops generating when the client leaves, and frees the slot', async () => {
    const leave = new AbortController();
    let pieces = 0;
    const result = await host.generate(
      input,
      async () => {
        if (++pieces === 3) leave.abort();
      },
      leave.signal,
    );
    expect(result.completionTokens).toBeLessThan(10);
    // The only slot is free again: the next generation runs at once.
    expect(
      (await host.generate({ ...input, maxTokens: 2 }, async () => {}, new AbortController().signal))
        .completionTokens,
    ).toBe(2);
  });

  it('queues up to maxQueued requests for a busy slot and refuses more', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const signal = new AbortController().signal;
    const first = host.generate({ ...input, maxTokens: 3 }, () => held, signal);
    const queued = host.generate({ ...input, maxTokens: 3 }, async () => {}, signal);
    await expect(host.generate({ ...input, maxTokens: 3 }, async () => {}, signal)).rejects.toBeInstanceOf(
      EngineBusyError,
    );
    release();
    expect((await first).completionTokens).toBe(3);
    expect((await queued).completionTokens).toBe(3);
  });

  it('ends the text before a stop string', async () => {
    const pieces: string[] = [];
    await host.generate(
      { ...input, maxTokens: 30 },
      async (text) => void pieces.push(text),
      new AbortController().signal,
    );
    const full = pieces.join('');
    // Stop at the third word of what greedy decoding produces anyway.
    const words = full.trim().split(' ');
    const stop = ` ${words[2]}`;
    const cut: string[] = [];
    const result = await host.generate(
      { ...input, maxTokens: 30, stops: [stop] },
      async (text) => void cut.push(text),
      new AbortController().signal,
    );
    expect(result.finishReason).toBe('stop');
    expect(cut.join('')).toBe(full.slice(0, full.indexOf(stop)));
  });
});

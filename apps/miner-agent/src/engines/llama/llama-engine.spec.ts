import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Llama } from 'node-llama-cpp';
import OpenAI from 'openai';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModels, type TinyModels } from '../../__tests__/tiny-models.js';
import type { EngineHandle } from '../engine.js';
import { LlamaEngine } from './llama-engine.js';
import { loadLlamaRuntime } from './llama-runtime.js';

const MODEL = 'tiny-chat';

describe('llama engine (in-process llama.cpp, OpenAI-compatible)', () => {
  let models: TinyModels;
  let llama: Llama;
  let engine: LlamaEngine;
  const handles: EngineHandle[] = [];
  let client: OpenAI;
  let replica: OpenAI;
  let otherModel: OpenAI;

  const start = async (path: string, concurrency = 2): Promise<OpenAI> => {
    const handle = engine.launch({
      instanceId: `i-${handles.length}`,
      model: { name: MODEL, path },
      spec: { name: 'llama', contextSize: 256 },
      gpus: [0],
      concurrency,
    });
    handles.push(handle);
    const baseUrl = await handle.ready;
    return new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: 'not-checked-by-the-engine', maxRetries: 0 });
  };

  beforeAll(async () => {
    models = await tinyModels();
    const { path } = await models.write('seed-11.gguf', 11);
    const copy = join(models.dir, 'seed-11-copy.gguf');
    await copyFile(path, copy);
    const other = await models.write('seed-12.gguf', 12);
    const logger = pino({ level: 'silent' });
    llama = await loadLlamaRuntime({ threads: 1, logger });
    engine = new LlamaEngine({ runtime: async () => llama, threads: 1, maxContextSize: 2048, logger });
    [client, replica, otherModel] = await Promise.all([start(path), start(copy), start(other.path)]);
  });

  afterAll(async () => {
    await Promise.all(handles.map((handle) => handle.stop()));
    await llama?.dispose();
    await models?.cleanup();
  });

  const chat = (api: OpenAI, extra: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}) =>
    api.chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'system', content: 'you are tiny' },
        { role: 'user', content: 'hello world, the model is tiny' },
      ],
      max_tokens: 12,
      temperature: 0,
      ...extra,
    });

  it('answers a chat completion with real token counts', async () => {
    const answer = await chat(client);
    expect(answer.object).toBe('chat.completion');
    expect(answer.model).toBe(MODEL);
    expect(answer.choices[0]?.message.role).toBe('assistant');
    expect(answer.choices[0]?.message.content?.trim().length).toBeGreaterThan(0);
    // The tiny model rarely produces `</s>`: 12 tokens are generated and the reason is the limit.
    expect(answer.choices[0]?.finish_reason).toBe('length');
    expect(answer.usage?.completion_tokens).toBe(12);
    expect(answer.usage?.prompt_tokens).toBeGreaterThan(10);
    expect(answer.usage?.total_tokens).toBe((answer.usage?.prompt_tokens ?? 0) + 12);
  });

  it('streams the same text chunk by chunk, with usage when asked for', async () => {
    const whole = await chat(client);
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'system', content: 'you are tiny' },
        { role: 'user', content: 'hello world, the model is tiny' },
      ],
      max_tokens: 12,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    const contentChunks = chunks.filter((chunk) => (chunk.choices[0]?.delta.content ?? '') !== '');
    expect(contentChunks.length).toBeGreaterThan(1);
    expect(contentChunks.map((chunk) => chunk.choices[0]?.delta.content).join('')).toBe(
      whole.choices[0]?.message.content,
    );
    expect(chunks.find((chunk) => chunk.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe('length');
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual(whole.usage);
  });

  it('answers completions, counting the prompt as the model tokenizes it', async () => {
    const answer = await client.completions.create({
      model: MODEL,
      prompt: 'hello world the model',
      max_tokens: 5,
      temperature: 0,
    });
    expect(answer.object).toBe('text_completion');
    expect(answer.choices[0]?.text.trim().length).toBeGreaterThan(0);
    // <s> plus four words, each a single token of the tiny vocabulary.
    expect(answer.usage).toEqual({ prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 });

    const stream = await client.completions.create({
      model: MODEL,
      prompt: 'hello world the model',
      max_tokens: 5,
      temperature: 0,
      stream: true,
    });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.text ?? '';
    expect(streamed).toBe(answer.choices[0]?.text);
  });

  it('gives identical output on two instances of the same file, at temperature 0 and with a seed', async () => {
    const greedy = await chat(client, { max_tokens: 24 });
    const greedyReplica = await chat(replica, { max_tokens: 24 });
    expect(greedyReplica.choices[0]?.message.content).toBe(greedy.choices[0]?.message.content);

    const seeded = await chat(client, { max_tokens: 24, temperature: 0.9, seed: 42 });
    const seededReplica = await chat(replica, { max_tokens: 24, temperature: 0.9, seed: 42 });
    expect(seededReplica.choices[0]?.message.content).toBe(seeded.choices[0]?.message.content);

    // A different model file (what a dishonest miner might serve) answers differently.
    const other = await chat(otherModel, { max_tokens: 24 });
    expect(other.choices[0]?.message.content).not.toBe(greedy.choices[0]?.message.content);
  });

  it('embeds each input (the SDK asks for base64), deterministically', async () => {
    const first = await client.embeddings.create({ model: MODEL, input: ['hello world', 'the tiny model'] });
    expect(first.data.map((item) => item.index)).toEqual([0, 1]);
    expect(first.data[0]?.embedding).toHaveLength(64);
    expect(first.data[0]?.embedding).not.toEqual(first.data[1]?.embedding);
    // <s> hello world + <s> the tiny model
    expect(first.usage).toEqual({ prompt_tokens: 7, total_tokens: 7 });
    const again = await replica.embeddings.create({
      model: MODEL,
      input: 'hello world',
      encoding_format: 'float',
    });
    expect(again.data[0]?.embedding).toEqual(first.data[0]?.embedding);
  });

  it('refuses bad requests in OpenAI shape, naming the field', async () => {
    await expect(chat(client, { model: 'gpt-4o' })).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
      param: 'model',
    });
    await expect(client.chat.completions.create({ model: MODEL, messages: [] })).rejects.toMatchObject({
      status: 400,
      type: 'invalid_request_error',
      param: 'messages',
    });
    await expect(chat(client, { n: 2 })).rejects.toMatchObject({ status: 400, param: 'n' });
    await expect(
      client.completions.create({ model: MODEL, prompt: 'hello '.repeat(300), max_tokens: 4 }),
    ).rejects.toMatchObject({ status: 400, code: 'context_length_exceeded', param: 'prompt' });
    // A stream that cannot start is refused with its status, before any byte of a 200 stream.
    await expect(
      client.completions.create({ model: MODEL, prompt: 'hello '.repeat(300), max_tokens: 4, stream: true }),
    ).rejects.toMatchObject({ status: 400, code: 'context_length_exceeded' });
    // The engine still answers afterwards.
    expect((await chat(client)).choices[0]?.finish_reason).toBe('length');
  });
});

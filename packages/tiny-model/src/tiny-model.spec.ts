import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { getLlama, LlamaCompletion, readGgufFileInfo, type Llama } from 'node-llama-cpp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyModel, TINY_MODEL_SHAPE, writeTinyModel } from './tiny-model.js';

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

describe('tiny model', () => {
  let dir: string;
  let llama: Llama;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tiny-model-'));
    // One thread: llama.cpp's default busy-waits on max(4, cores) threads, far slower on 2 cores.
    llama = await getLlama({ gpu: false, build: 'never', maxThreads: 1 });
  });

  afterAll(async () => {
    await llama?.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives identical bytes for the same seed and a different model for another seed', () => {
    const first = buildTinyModel({ seed: 7 });
    expect(sha256(buildTinyModel({ seed: 7 }))).toBe(sha256(first));
    expect(sha256(buildTinyModel({ seed: 8 }))).not.toBe(sha256(first));
  });

  it('refuses a seed that is not an unsigned 32-bit integer', () => {
    expect(() => buildTinyModel({ seed: -1 })).toThrow(RangeError);
    expect(() => buildTinyModel({ seed: 1.5 })).toThrow(RangeError);
    expect(() => buildTinyModel({ seed: 2 ** 32 })).toThrow(RangeError);
  });

  it('is a GGUF v3 llama model with the declared shape, as llama.cpp tooling reads it', async () => {
    const path = join(dir, 'shape.gguf');
    await writeTinyModel(path, { seed: 1, name: 'shape-check' });
    const info = await readGgufFileInfo(path);
    expect(info.version).toBe(3);
    const metadata = info.metadata as unknown as Record<string, Record<string, unknown>>;
    expect(metadata['general']).toMatchObject({ architecture: 'llama', name: 'shape-check' });
    expect(metadata['llama']).toMatchObject({
      embedding_length: TINY_MODEL_SHAPE.embeddingLength,
      block_count: TINY_MODEL_SHAPE.blockCount,
      feed_forward_length: TINY_MODEL_SHAPE.feedForwardLength,
    });
    // token_embd, output_norm, output, and 9 tensors per block.
    expect(info.tensorInfo?.length).toBe(3 + 9 * TINY_MODEL_SHAPE.blockCount);
  });

  it('loads in llama.cpp, tokenizes known words whole, and generates the same text from the same file', async () => {
    const path = join(dir, 'seed-3.gguf');
    const copy = join(dir, 'seed-3-copy.gguf');
    const other = join(dir, 'seed-4.gguf');
    await writeTinyModel(path, { seed: 3 });
    await writeTinyModel(copy, { seed: 3 });
    await writeTinyModel(other, { seed: 4 });

    const generate = async (modelPath: string): Promise<string> => {
      const model = await llama.loadModel({ modelPath });
      try {
        const context = await model.createContext({ contextSize: 256, threads: 1 });
        const completion = new LlamaCompletion({ contextSequence: context.getSequence() });
        return await completion.generateCompletion('hello world', { maxTokens: 24, temperature: 0 });
      } finally {
        await model.dispose();
      }
    };

    const model = await llama.loadModel({ modelPath: path });
    const words = model.tokenize('hello world the model');
    expect(words.map((token) => model.detokenize([token]).trim())).toEqual([
      'hello',
      'world',
      'the',
      'model',
    ]);
    await model.dispose();

    const text = await generate(path);
    expect(text.trim().length).toBeGreaterThan(0);
    expect(await generate(copy)).toBe(text);
    expect(await generate(other)).not.toBe(text);
  });

  it('has a CLI that writes the file and prints its sha256', async () => {
    const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
    const path = join(dir, 'cli', 'model.gguf');
    const { stdout } = await promisify(execFile)(process.execPath, [cli, path, '--seed', '5']);
    const written = await readFile(path);
    expect(stdout.trim()).toBe(`${sha256(written)}  ${path}`);
    expect(sha256(written)).toBe(sha256(buildTinyModel({ seed: 5 })));
  });
});

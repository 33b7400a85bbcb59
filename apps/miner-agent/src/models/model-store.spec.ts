import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { tinyModels, type TinyModels } from '../__tests__/tiny-models.js';
import { ModelStore, ModelUnavailableError } from './model-store.js';

describe('ModelStore', () => {
  let models: TinyModels;
  let model: { path: string; sha256: string };
  let server: Server;
  let baseUrl: string;
  /** Requests per path, and how many of the next ones answer 503 first. */
  let hits: Map<string, number>;
  let failFirst: number;
  const signal = new AbortController().signal;
  const store = () => new ModelStore(join(models.dir, `cache-${Math.random()}`), pino({ level: 'silent' }));

  beforeAll(async () => {
    models = await tinyModels();
    model = await models.write('served.gguf', 9);
    const bytes = await readFile(model.path);
    server = createServer((req, res) => {
      hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1);
      if (failFirst > 0) {
        failFirst--;
        res.writeHead(503).end();
      } else if (req.url === '/models/tiny.gguf') {
        res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  beforeEach(() => {
    hits = new Map();
    failFirst = 0;
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await models?.cleanup();
  });

  it('hashes a local path and a file: URL', async () => {
    const modelStore = store();
    expect(await modelStore.resolve(model.path, { signal })).toEqual({
      path: model.path,
      sha256: model.sha256,
    });
    expect((await modelStore.resolve(pathToFileURL(model.path).href, { signal })).sha256).toBe(model.sha256);
  });

  it('refuses a missing file, an unknown scheme, and a sha256 other than expected', async () => {
    const modelStore = store();
    await expect(modelStore.resolve(join(models.dir, 'missing.gguf'), { signal })).rejects.toBeInstanceOf(
      ModelUnavailableError,
    );
    await expect(modelStore.resolve('s3://bucket/model.gguf', { signal })).rejects.toBeInstanceOf(
      ModelUnavailableError,
    );
    await expect(modelStore.resolve(model.path, { expectedSha256: 'f'.repeat(64), signal })).rejects.toThrow(
      /sha256/,
    );
  });

  it('downloads an http model once into the cache, retrying transient failures, shared by concurrent launches', async () => {
    failFirst = 2;
    const modelStore = store();
    const url = `${baseUrl}/models/tiny.gguf`;
    const [first, second] = await Promise.all([
      modelStore.resolve(url, { expectedSha256: model.sha256, signal }),
      modelStore.resolve(url, { signal }),
    ]);
    expect(first.sha256).toBe(model.sha256);
    expect(second).toEqual(first);
    expect(await readFile(first.path)).toEqual(await readFile(model.path));
    // Two 503s, then one download for both launches.
    expect(hits.get('/models/tiny.gguf')).toBe(3);
    expect((await modelStore.resolve(url, { signal })).path).toBe(first.path);
    expect(hits.get('/models/tiny.gguf')).toBe(3);
  });

  it('does not retry a download the server refuses for good', async () => {
    await expect(store().resolve(`${baseUrl}/models/absent.gguf`, { signal })).rejects.toThrow(
      /answered 404/,
    );
    expect(hits.get('/models/absent.gguf')).toBe(1);
  });

  it('hashes a model folder by its files, so equal folders match and any change shows', async () => {
    const folder = async (name: string, config: string) => {
      const dir = join(models.dir, name);
      await mkdir(join(dir, 'tokenizer'), { recursive: true });
      await writeFile(join(dir, 'config.json'), config);
      await writeFile(join(dir, 'tokenizer', 'vocab.txt'), 'hello\nworld\n');
      return dir;
    };
    const modelStore = store();
    const a = await modelStore.resolve(await folder('hf-a', '{"layers": 2}'), { signal });
    const b = await modelStore.resolve(await folder('hf-b', '{"layers": 2}'), { signal });
    const c = await modelStore.resolve(await folder('hf-c', '{"layers": 3}'), { signal });
    expect(a.sha256).toBe(b.sha256);
    expect(c.sha256).not.toBe(a.sha256);
  });
});

// The README's first command, as a newcomer runs it: `npm start` (start.js, with every app of
// this repository built) brings up the local platform — a local chain with a demo miner, the
// demo account and deployment — and then the operator CLI issues a key and the official `openai`
// SDK gets an answer from the demo miner through the inference proxy.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/ports.js';
import { cleanEnv, runStart, type Started } from './start-process.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const tesseraCli = join(repoRoot, 'tools', 'cli', 'bin', 'tessera.js');

describe('npm start: the local platform', () => {
  let dataDir: string;
  let start: Started;
  let natsUrl: string;
  let baseURL: string;

  const tessera = async (...args: string[]): Promise<string> => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [tesseraCli, '--nats-url', natsUrl, '--seed-file', join(dataDir, 'nats-keys', 'operator.nk'), ...args],
      { cwd: repoRoot },
    );
    return stdout;
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'tessera-local-platform-'));
    const ports: Record<string, string> = {};
    for (const app of ['INFERENCE_PROXY', 'BILLING', 'SCHEDULER', 'CHAIN_INDEXER', 'MINER_AGENT'])
      ports[`${app}_HTTP_PORT`] = String(await freePort());
    start = runStart(
      repoRoot,
      cleanEnv({
        TESSERA_DATA_DIR: dataDir,
        NATS_PORT: String(await freePort()),
        POSTGRES_PORT: String(await freePort()),
        MINER_PORT: String(await freePort()),
        LOG_LEVEL: 'warn',
        NO_COLOR: '1',
        ...ports,
      }),
    );
    natsUrl = (await start.waitFor(/ready: NATS (nats:\/\/\S+),/, 240_000))[1] ?? '';
    baseURL = (await start.waitFor(/demo: OpenAI-compatible API at (http:\/\/\S+\/v1)/, 240_000))[1] ?? '';
  }, 300_000);

  afterAll(async () => {
    if (start && start.child.exitCode === null && start.child.signalCode === null) {
      process.kill(-(start.child.pid ?? 0), 'SIGINT');
      await start.exited;
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('shows the demo deployment and the demo miner with the operator CLI', { timeout: 90_000 }, async () => {
    const deployments = JSON.parse(await tessera('--json', 'deployments', 'list')) as {
      deployments: { deploymentId: string; ownerAccountId: string }[];
    };
    expect(deployments.deployments).toContainEqual(
      expect.objectContaining({ deploymentId: 'tiny-chat', ownerAccountId: 'demo' }),
    );
    // The scheduler polls each miner every few seconds: the demo miner turns healthy at its first poll.
    const healthyMiners = async () => {
      const listed = JSON.parse(await tessera('--json', 'miners', 'list')) as {
        miners: { status: string }[];
      };
      return listed.miners.filter((miner) => miner.status === 'healthy').length;
    };
    let healthy = await healthyMiners();
    for (const deadline = Date.now() + 60_000; healthy === 0 && Date.now() < deadline;) {
      await new Promise((resolveWait) => setTimeout(resolveWait, 1_000));
      healthy = await healthyMiners();
    }
    expect(healthy).toBe(1);
  });

  it('answers the openai SDK with the demo account’s new key: a completion and a stream', async () => {
    const issued = JSON.parse(await tessera('--json', 'keys', 'issue', '--account', 'demo')) as {
      key: string;
    };
    const client = new OpenAI({ baseURL, apiKey: issued.key, maxRetries: 0 });
    const ask = () =>
      client.chat.completions.create({
        model: 'tiny-chat',
        messages: [{ role: 'user', content: 'Say hello' }],
        max_tokens: 8,
      });
    // The deployment's first instance may still be loading: the proxy says 503 until it is ready.
    let answer: Awaited<ReturnType<typeof ask>> | undefined;
    for (const deadline = Date.now() + 180_000; answer === undefined;) {
      try {
        answer = await ask();
      } catch (error) {
        if (!(error instanceof OpenAI.APIError && error.status === 503) || Date.now() > deadline) throw error;
        await new Promise((resolveWait) => setTimeout(resolveWait, 2_000));
      }
    }
    expect(answer.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(answer.usage?.completion_tokens).toBeGreaterThan(0);

    const stream = await client.chat.completions.create({
      model: 'tiny-chat',
      messages: [{ role: 'user', content: 'Count' }],
      max_tokens: 8,
      stream: true,
    });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? '';
    expect(streamed.length).toBeGreaterThan(0);

    const refused = await client.chat.completions
      .create(
        { model: 'tiny-chat', messages: [{ role: 'user', content: 'hi' }] },
        { headers: { authorization: 'Bearer tsk_wrong' } },
      )
      .catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OpenAI.AuthenticationError);
  }, 240_000);

  it('stops everything on Ctrl-C, the local chain included', async () => {
    process.kill(-(start.child.pid ?? 0), 'SIGINT');
    expect(await start.exited).toEqual({ code: 0, signal: null });
    expect(start.output()).toMatch(/stopping the local chain/);
    expect(start.output()).toMatch(/\bstopped\b/);
  }, 60_000);
});

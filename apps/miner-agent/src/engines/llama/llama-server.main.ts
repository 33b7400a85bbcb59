#!/usr/bin/env node
// `tessera-llama-server`: the llama engine as a standalone OpenAI-compatible server process.
// It takes the llama.cpp `llama-server` flags the command template passes, so it stands in for
// `llama-server` on hosts that do not have it (and lets tests run the command engine for real).
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadLlamaRuntime } from './llama-runtime.js';
import { LlamaModelHost } from './llama-model-host.js';
import { createOpenAiHandler, listen } from './openai-server.js';

const logger = pino({ name: 'tessera-llama-server' });

function integer(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^[0-9]+$/.test(value)) throw new Error(`--${name} must be a non-negative integer, got ${value}`);
  return Number(value);
}

const options = {
  model: { type: 'string', short: 'm' },
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '8080' },
  alias: { type: 'string', short: 'a' },
  parallel: { type: 'string' },
  'ctx-size': { type: 'string', short: 'c' },
  threads: { type: 'string', short: 't' },
  embeddings: { type: 'boolean' },
} as const;

async function main(): Promise<void> {
  // llama-server has many flags (GPU layers, batch sizes…) that mean nothing here: ignore them.
  const { values, tokens } = parseArgs({ options, strict: false, tokens: true });
  const ignored = tokens.flatMap((token) =>
    token.kind === 'option' && !(token.name in options) ? [token.rawName] : [],
  );
  if (ignored.length > 0) logger.warn({ ignored }, 'ignoring unsupported flags');
  const modelPath = typeof values.model === 'string' ? values.model : undefined;
  if (modelPath === undefined) throw new Error('--model <path to a GGUF file> is required');
  const threads = integer('threads', values.threads as string | undefined, 1);
  const parallel = Math.max(1, integer('parallel', values.parallel as string | undefined, 1));
  const contextSize =
    values['ctx-size'] === undefined ? undefined : integer('ctx-size', values['ctx-size'] as string, 0);

  const llama = await loadLlamaRuntime({ threads, logger });
  const host = await LlamaModelHost.load({
    llama,
    modelPath,
    concurrency: parallel,
    ...(contextSize === undefined ? {} : { contextSize }),
    maxContextSize: contextSize ?? 1 << 20,
    maxQueued: parallel * 4,
    threads,
  });
  const servedName = typeof values.alias === 'string' ? values.alias : modelPath;
  const server = await listen(
    createOpenAiHandler({ host, servedName, logger }),
    String(values.host),
    integer('port', values.port as string | undefined, 8080),
  );
  logger.info({ port: server.port, model: servedName }, 'listening');

  let stopping = false;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ why }, 'stopping');
    void server
      .close()
      .then(() => host.dispose())
      .then(() => llama.dispose())
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  logger.fatal({ err }, 'could not start');
  process.exit(1);
});

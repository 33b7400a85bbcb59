import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { ConstantBackoff, handleAll, retry } from 'cockatiel';
import type { Logger } from 'pino';
import { EngineFailure, type Engine, type EngineHandle, type EngineLaunch } from '../engine.js';
import type { CommandTemplate } from './templates.js';

const LOG_TAIL_LINES = 40;
const HEALTH_POLL_MS = 500;
const HEALTH_REQUEST_TIMEOUT_MS = 2_000;
const STOP_GRACE_MS = 10_000;

/** Options for {@link CommandEngine}. */
export interface CommandEngineOptions {
  template: CommandTemplate;
  logger: Logger;
  /** Overrides the template's readiness timeout. */
  readyTimeoutMs?: number;
  /**
   * Run the engine under util-linux's `setpriv --pdeathsig SIGTERM` (this path): the kernel then
   * signals the engine when the agent dies, even by SIGKILL, so no engine is left holding its
   * GPUs and port for nobody. Undefined where `setpriv` is missing (the engine then outlives a
   * killed agent).
   */
  setpriv?: string;
}

/**
 * An engine run as a child process from a template (vLLM, SGLang, llama.cpp's `llama-server`):
 * it is given a free loopback port, is ready once its health URL answers 200 within the
 * readiness timeout, and its last output lines are the failure reason when it dies or never
 * gets ready. It runs in its own process group, so stopping it also stops its workers.
 */
export class CommandEngine implements Engine {
  constructor(private readonly options: CommandEngineOptions) {}

  get name(): CommandTemplate['name'] {
    return this.options.template.name;
  }

  launch(launch: EngineLaunch): EngineHandle {
    const template = this.options.template;
    const logger = this.options.logger.child({ instanceId: launch.instanceId, engine: template.name });
    const readyTimeoutMs = this.options.readyTimeoutMs ?? template.readyTimeoutMs;
    const tail: string[] = [];
    const stopping = new AbortController();
    let child: ChildProcess | undefined;
    let exitReason: string | undefined;
    let resolveExit!: (reason: string) => void;
    const exited = new Promise<string>((resolve) => (resolveExit = resolve));

    const lastOutput = (): string => (tail.length === 0 ? '(no output)' : tail.join('\n'));

    const stop = async (): Promise<void> => {
      stopping.abort();
      const running = child;
      if (running?.pid === undefined || running.exitCode !== null || running.signalCode !== null) return;
      signalGroup(running, 'SIGTERM');
      const killer = setTimeout(() => signalGroup(running, 'SIGKILL'), STOP_GRACE_MS);
      await exited;
      clearTimeout(killer);
    };

    const ready = (async () => {
      const port = await freePort();
      const engineCommand = [...template.command, ...template.args(launch, port)];
      const setpriv = this.options.setpriv;
      const [command, ...args] = setpriv
        ? [setpriv, '--pdeathsig', 'SIGTERM', '--', ...engineCommand]
        : engineCommand;
      if (command === undefined) throw new EngineFailure(`the ${template.name} template has no command`);
      logger.info({ command, args }, 'starting engine');
      child = spawn(command, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
        env: { ...process.env, ...template.env(launch) },
      });
      const collect = (chunk: Buffer): void => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (line.trim() === '') continue;
          tail.push(line);
          if (tail.length > LOG_TAIL_LINES) tail.shift();
          logger.debug({ line }, 'engine output');
        }
      };
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);
      child.once('error', (err) => {
        exitReason = `could not start ${command}: ${err.message}`;
        resolveExit(exitReason);
      });
      child.once('exit', (code, signal) => {
        exitReason ??= `${template.name} exited (${signal ? `signal ${signal}` : `code ${code}`}); last output:\n${lastOutput()}`;
        resolveExit(exitReason);
      });

      const baseUrl = `http://127.0.0.1:${port}`;
      const gaveUp = AbortSignal.any([stopping.signal, AbortSignal.timeout(readyTimeoutMs)]);
      const watch = new AbortController();
      void exited.then(() => watch.abort());
      try {
        await retry(handleAll, {
          maxAttempts: Number.MAX_SAFE_INTEGER,
          backoff: new ConstantBackoff(HEALTH_POLL_MS),
        }).execute(
          () => checkHealth(`${baseUrl}${template.healthPath}`),
          AbortSignal.any([gaveUp, watch.signal]),
        );
      } catch {
        if (exitReason !== undefined) throw new EngineFailure(exitReason);
        if (stopping.signal.aborted) throw new EngineFailure('stopped while starting');
        await stop();
        throw new EngineFailure(
          `${template.name} was not ready within ${readyTimeoutMs} ms; last output:\n${lastOutput()}`,
        );
      }
      return baseUrl;
    })();
    ready.catch(() => undefined);

    return {
      ready,
      // Only an exit after readiness that nobody asked for is a failure of a running instance.
      failed: ready.then(
        () =>
          exited.then((reason) => (stopping.signal.aborted ? new Promise<string>(() => undefined) : reason)),
        () => new Promise<string>(() => undefined),
      ),
      stop,
    };
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    // The engine leads its own group (detached): its workers get the signal too.
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

async function checkHealth(url: string): Promise<void> {
  const response = await fetch(url, { signal: AbortSignal.timeout(HEALTH_REQUEST_TIMEOUT_MS) });
  await response.body?.cancel();
  if (response.status !== 200) throw new Error(`health check answered ${response.status}`);
}

/** A loopback port nobody listens on now (the engine binds it a moment later). */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('could not find a free port');
  return address.port;
}

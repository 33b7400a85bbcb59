import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { access, constants as fsConstants } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { delimiter, join } from 'node:path';

/** Asks the kernel for a port nobody listens on right now (it may be taken again before use). */
export async function findFreePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  server.unref();
  server.listen(0, host);
  await once(server, 'listening');
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') {
    throw new Error(`could not read the address of a probe server on ${host}`);
  }
  return address.port;
}

function tryConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000);
    socket.once('connect', () => done(true));
    socket.once('timeout', () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, host);
  });
}

/**
 * Resolves once `host:port` accepts TCP connections; rejects after `timeoutMs`.
 * `abortIf` lets a caller stop waiting early, e.g. when the server process already died.
 */
export async function waitForPort(
  host: string,
  port: number,
  timeoutMs: number,
  abortIf?: () => Error | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const abort = abortIf?.();
    if (abort) throw abort;
    if (await tryConnect(host, port)) return;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${host}:${port} to accept connections`);
    }
    await sleep(50);
  }
}

/** Promise-based delay. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Finds an executable by name on PATH plus extra directories (Debian puts nats-server in /usr/sbin, often not on PATH). */
export async function findExecutable(
  name: string,
  extraDirs: readonly string[] = [],
): Promise<string | undefined> {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter((d) => d !== ''), ...extraDirs];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not in this directory: keep looking
    }
  }
  return undefined;
}

/** Options for {@link startManagedProcess}. */
export interface ManagedProcessOptions {
  /** Short name used as the output prefix (`[nats] …`) and in error messages. */
  name: string;
  command: string;
  args: readonly string[];
  /** Pipe the child's output to this process's stderr with a `[name]` prefix. Off by default: output is only kept for error messages. */
  pipeOutput?: boolean;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Run the child as this user (only possible when we are root): Postgres refuses to run as root. */
  uid?: number;
  gid?: number;
  /**
   * Put the child in its own process group so `kill()` reaches the grandchildren too
   * (Postgres backends); a hard kill then looks like a crashed machine, not one dead process.
   */
  ownProcessGroup?: boolean;
}

/** A child process that is killed when this process exits and remembers its recent output. */
export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** The last lines the child wrote, for error messages. */
  recentOutput(): string;
  /** Set once the child has exited. */
  exitInfo(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Resolves when the child has exited. */
  readonly exited: Promise<void>;
  /** Sends `signal` and waits for exit; escalates to SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  /** Sends `signal` (default SIGKILL) to the child (and its group when it has one) and waits for exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const liveChildren = new Set<ChildProcess & { ownGroup?: boolean }>();
let exitHookInstalled = false;

function killAllChildrenNow(): void {
  for (const child of liveChildren) {
    try {
      if (child.pid !== undefined && child.ownGroup) process.kill(-child.pid, 'SIGKILL');
      else child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL is the only thing we can still do there.
  process.once('exit', killAllChildrenNow);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      // Whoever else handles the signal (`npm start`, the CI helper) stops the servers itself, in
      // its own order: apps drain against Postgres and NATS first. Killing them here would pull
      // the database out from under a draining app. The exit hook still catches leftovers.
      if (process.listenerCount(signal) > 0) return;
      killAllChildrenNow();
      // Nobody else handles it: behave like Node's default (die by that signal) rather than
      // swallowing it just because we listened.
      process.kill(process.pid, signal);
    };
    process.once(signal, onSignal);
  }
}

/** Spawns a child that dies with this process, optionally piping its output with a `[name]` prefix. */
export function startManagedProcess(options: ManagedProcessOptions): ManagedProcess {
  installExitHook();
  const child: ChildProcess & { ownGroup?: boolean } = spawn(options.command, [...options.args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    uid: options.uid,
    gid: options.gid,
    detached: options.ownProcessGroup ?? false,
  });
  child.ownGroup = options.ownProcessGroup ?? false;
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`[${options.name}] could not spawn ${options.command}`);
  }
  liveChildren.add(child);

  const tail: string[] = [];
  const onData = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line === '') continue;
      tail.push(line);
      if (tail.length > 50) tail.shift();
      if (options.pipeOutput) process.stderr.write(`[${options.name}] ${line}\n`);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);

  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      liveChildren.delete(child);
      resolve();
    });
    child.once('error', (err) => {
      tail.push(`spawn error: ${err.message}`);
      exit = { code: null, signal: null };
      liveChildren.delete(child);
      resolve();
    });
  });

  const send = (signal: NodeJS.Signals): void => {
    if (exit) return;
    try {
      if (child.ownGroup) process.kill(-pid, signal);
      else child.kill(signal);
    } catch {
      // exited between the check and the signal
    }
  };

  return {
    name: options.name,
    pid,
    exited,
    recentOutput: () => tail.join('\n'),
    exitInfo: () => exit,
    async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<void> {
      if (exit) return;
      send(signal);
      const timer = setTimeout(() => send('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
      send(signal);
      await exited;
    },
  };
}

/** Builds the "process exited early" error with the child's last output. */
export function exitedEarlyError(processHandle: ManagedProcess): Error | undefined {
  const info = processHandle.exitInfo();
  if (!info) return undefined;
  return new Error(
    `[${processHandle.name}] exited during startup (code ${String(info.code)}, signal ${String(info.signal)}):\n${processHandle.recentOutput()}`,
  );
}

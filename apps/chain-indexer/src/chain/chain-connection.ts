import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ApiPromise, WsProvider } from '@polkadot/api';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { raonetChainSpec, startChopsticks, type ChopsticksHandle } from '@tessera/devservers';
import { type Logger } from 'pino';
import { retryUntilStopped } from '../shared/stoppable-retry.js';

/** Where the chain comes from. */
export type ChainSource =
  | { kind: 'endpoint'; endpoint: string }
  | { kind: 'spec'; specPath: string }
  /** The raonet spec shipped in `@tessera/devservers` (local development, tests). */
  | { kind: 'shipped-spec' };

/**
 * `CHAIN_ENDPOINT` wins; else `CHAIN_SPEC`; else, outside production, the raonet spec shipped
 * with the project (local development with `npm start`). Production without either is an error.
 */
export function resolveChainSource(env: {
  CHAIN_ENDPOINT?: string | undefined;
  CHAIN_SPEC?: string | undefined;
  NODE_ENV: string;
}): ChainSource {
  if (env.CHAIN_ENDPOINT) return { kind: 'endpoint', endpoint: env.CHAIN_ENDPOINT };
  if (env.CHAIN_SPEC) {
    const specPath = isAbsolute(env.CHAIN_SPEC)
      ? env.CHAIN_SPEC
      : resolve(repoRootOr(process.cwd()), env.CHAIN_SPEC);
    return { kind: 'spec', specPath };
  }
  if (env.NODE_ENV === 'production') {
    throw new Error('CHAIN_ENDPOINT (or CHAIN_SPEC) is required when NODE_ENV=production');
  }
  return { kind: 'shipped-spec' };
}

/** The monorepo root above `from` (the package.json declaring workspaces), or `from` itself. */
function repoRootOr(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && 'workspaces' in (JSON.parse(readFileSync(manifest, 'utf8')) as object))
      return dir;
    if (dirname(dir) === dir) return from;
  }
}

/**
 * One `@polkadot/api` connection to subtensor. Connects in the background with backoff (an
 * unreachable endpoint makes the service not ready, never crashes it) and says why in the log;
 * after a drop it reconnects the same way, and the follower resumes from its cursor.
 */
export class ChainConnection {
  private provider: WsProvider | undefined;
  private apiPromise: Promise<ApiPromise> | undefined;
  private chopsticks: ChopsticksHandle | undefined;
  private stopped = false;
  private readonly stopping = new AbortController();
  private reconnecting = false;
  private lastError: string | undefined = 'not connected yet';
  private connected = false;

  constructor(
    private readonly source: ChainSource,
    private readonly log: Logger,
  ) {}

  /** Resolves with the API once the first connection is made (retrying until then). */
  api(): Promise<ApiPromise> {
    this.apiPromise ??= this.open();
    return this.apiPromise;
  }

  /** For readiness: connected, or why not. */
  status(): { up: boolean; detail?: string } {
    if (this.provider?.isConnected) return { up: true };
    return { up: false, detail: this.lastError ?? 'disconnected' };
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.stopping.abort(new Error('chain connection closed'));
    if (this.apiPromise) {
      const api = await Promise.race([
        this.apiPromise.catch(() => undefined),
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 100)),
      ]);
      await api?.disconnect().catch(() => undefined);
    }
    await this.provider?.disconnect().catch(() => undefined);
    await this.chopsticks?.stop();
  }

  private async open(): Promise<ApiPromise> {
    await cryptoWaitReady();
    const endpoint = await this.endpoint();
    // autoConnect off: reconnects are ours, with backoff and a log line saying why.
    const provider = new WsProvider(endpoint, false);
    this.provider = provider;
    provider.on('error', (err: unknown) => {
      this.lastError = `chain endpoint ${endpoint} unreachable: ${describe(err)}`;
    });
    provider.on('disconnected', () => {
      if (this.stopped) return;
      // Node 22+'s built-in WebSocket reports an 'error' before 'disconnected' on a dropped
      // connection, so "was connected" is tracked on its own rather than read from lastError.
      if (this.connected) {
        this.connected = false;
        this.log.warn({ endpoint }, 'chain connection dropped; reconnecting');
      }
      this.lastError = `disconnected from ${endpoint}`;
      void this.reconnect(provider, endpoint);
    });
    provider.on('connected', () => {
      this.connected = true;
      this.lastError = undefined;
      this.log.info({ endpoint }, 'chain connected');
    });
    await this.reconnect(provider, endpoint);
    const api = new ApiPromise({
      provider,
      noInitWarn: true,
      // Subtensor's signed extensions add nothing to the payload; declaring them keeps
      // @polkadot/api from warning about them.
      signedExtensions: {
        SubtensorSignedExtension: { extrinsic: {}, payload: {} },
        CommitmentsSignedExtension: { extrinsic: {}, payload: {} },
      },
    });
    await api.isReadyOrError;
    this.log.info(
      {
        specName: api.runtimeVersion.specName.toString(),
        specVersion: api.runtimeVersion.specVersion.toNumber(),
      },
      'chain runtime',
    );
    return api;
  }

  private async endpoint(): Promise<string> {
    if (this.source.kind === 'endpoint') return this.source.endpoint;
    let specPath: string;
    if (this.source.kind === 'shipped-spec') {
      specPath = await raonetChainSpec();
      this.log.info(
        { specPath },
        'neither CHAIN_ENDPOINT nor CHAIN_SPEC set: starting the shipped raonet chain with chopsticks (development only)',
      );
    } else {
      specPath = this.source.specPath;
      this.log.info({ specPath }, 'starting a local chain with chopsticks from CHAIN_SPEC');
    }
    this.chopsticks = await startChopsticks({ specPath });
    return this.chopsticks.endpoint;
  }

  /** Connects, retrying with backoff (0.5 s growing to 30 s) until connected or closed. */
  private async reconnect(provider: WsProvider, endpoint: string): Promise<void> {
    if (this.reconnecting || this.stopped) return;
    this.reconnecting = true;
    try {
      await retryUntilStopped(
        async () => {
          if (provider.isConnected) return;
          try {
            await provider.connect();
            await waitConnected(provider, 5_000);
          } catch (err) {
            await provider.disconnect().catch(() => undefined);
            throw err;
          }
        },
        this.stopping.signal,
        {
          initialDelayMs: 500,
          maxDelayMs: 30_000,
          onRetry: (err, attempt, delayMs) => {
            this.lastError = `chain endpoint ${endpoint} unreachable: ${describe(err)}`;
            this.log.warn(
              { endpoint, attempt, retryInMs: Math.round(delayMs), reason: describe(err) },
              'chain endpoint unreachable; retrying',
            );
          },
        },
      );
    } catch (err) {
      if (!this.stopped) throw err;
    } finally {
      this.reconnecting = false;
    }
  }
}

function waitConnected(provider: WsProvider, timeoutMs: number): Promise<void> {
  if (provider.isConnected) return Promise.resolve();
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      offConnected();
      offError();
      reject(new Error(`no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    const offConnected = provider.on('connected', () => {
      clearTimeout(timer);
      offError();
      offConnected();
      resolvePromise();
    });
    const offError = provider.on('error', (err: unknown) => {
      clearTimeout(timer);
      offConnected();
      offError();
      reject(err instanceof Error ? err : new Error(describe(err)));
    });
  });
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === 'object' && err !== null && 'message' in err)
    return String((err as { message: unknown }).message);
  if (typeof err === 'object' && err !== null && 'type' in err)
    return `websocket ${String((err as { type: unknown }).type)}`;
  return String(err);
}

import type { Llama } from 'node-llama-cpp';
import type { Logger } from 'pino';
import { EngineFailure, type Engine, type EngineHandle, type EngineLaunch } from '../engine.js';
import { LlamaModelHost } from './llama-model-host.js';
import { createOpenAiHandler, listen, type ListeningServer } from './openai-server.js';

/** Options for {@link LlamaEngine}. */
export interface LlamaEngineOptions {
  /** Loaded once per process, on first use. */
  runtime: () => Promise<Llama>;
  threads: number;
  maxContextSize: number;
  logger: Logger;
}

/**
 * The in-process engine: llama.cpp through node-llama-cpp on the CPU, each instance's
 * OpenAI-compatible API on its own loopback port, so the data plane proxies to it exactly as
 * to a command engine.
 */
export class LlamaEngine implements Engine {
  readonly name = 'llama' as const;

  constructor(private readonly options: LlamaEngineOptions) {}

  launch(launch: EngineLaunch): EngineHandle {
    if (launch.spec.name !== 'llama') throw new Error(`the llama engine cannot run ${launch.spec.name}`);
    const contextSize = launch.spec.contextSize;
    const logger = this.options.logger.child({ instanceId: launch.instanceId, engine: 'llama' });
    let stopped = false;
    let host: LlamaModelHost | undefined;
    let server: ListeningServer | undefined;

    const release = async (): Promise<void> => {
      const [runningServer, loadedHost] = [server, host];
      server = undefined;
      host = undefined;
      await runningServer?.close();
      await loadedHost?.dispose();
    };

    const ready = (async () => {
      try {
        const llama = await this.options.runtime();
        host = await LlamaModelHost.load({
          llama,
          modelPath: launch.model.path,
          concurrency: launch.concurrency,
          ...(contextSize === undefined ? {} : { contextSize }),
          maxContextSize: this.options.maxContextSize,
          // A few waiting requests smooth bursts; more would only add latency the router can avoid.
          maxQueued: launch.concurrency * 4,
          threads: this.options.threads,
        });
        server = await listen(
          createOpenAiHandler({ host, servedName: launch.model.name, logger }),
          '127.0.0.1',
          0,
        );
        if (stopped) throw new EngineFailure('stopped while starting');
        return `http://127.0.0.1:${server.port}`;
      } catch (err) {
        await release();
        if (err instanceof EngineFailure) throw err;
        throw new EngineFailure(
          `llama.cpp could not load the model: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    })();
    ready.catch(() => undefined);

    return {
      ready,
      // In-process: the engine can only fail by taking the whole agent with it.
      failed: new Promise<string>(() => undefined),
      stop: async () => {
        stopped = true;
        await ready.catch(() => undefined);
        await release();
      },
    };
  }
}

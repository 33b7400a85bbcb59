import type { EngineName, EngineSpec } from '@tessera/contracts';

/** What an engine needs to start serving one instance. */
export interface EngineLaunch {
  instanceId: string;
  /** `name` is what clients ask for; `path` is the resolved local file or folder. */
  model: { name: string; path: string };
  spec: EngineSpec;
  /** GPU indexes reserved for the instance. */
  gpus: readonly number[];
  concurrency: number;
}

/** A started engine. */
export interface EngineHandle {
  /**
   * Resolves with the base URL of the engine's OpenAI-compatible API on loopback
   * (`http://127.0.0.1:<port>`) once it answers its health check; rejects with an
   * {@link EngineFailure} saying why it never got there.
   */
  readonly ready: Promise<string>;
  /** Resolves with the reason if the engine dies on its own after it was ready; never for a stop. */
  readonly failed: Promise<string>;
  /** Stops the engine and frees what it holds; safe to call in any state, more than once. */
  stop(): Promise<void>;
}

/** One kind of engine (the in-process llama engine, or a command template). */
export interface Engine {
  readonly name: EngineName;
  launch(launch: EngineLaunch): EngineHandle;
}

/** An engine did not become ready; `message` is the reason reported to the scheduler. */
export class EngineFailure extends Error {
  override readonly name = 'EngineFailure';
}

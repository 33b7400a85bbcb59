import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';
import type { Logger } from 'pino';

/**
 * llama.cpp with its prebuilt CPU binary: never a GPU (GPU hosts run command engines), never a
 * build from source at run time. `threads` caps all evaluation threads of the process: llama.cpp's
 * default (max(4, cores)) busy-waits, which on a small host makes generation many times slower.
 */
export function loadLlamaRuntime(options: { threads: number; logger: Logger }): Promise<Llama> {
  const log = options.logger;
  return getLlama({
    gpu: false,
    build: 'never',
    maxThreads: options.threads,
    logLevel: LlamaLogLevel.warn,
    logger: (level, message) => {
      const text = message.trim();
      if (text === '') return;
      if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal)
        log.error({ llama: text }, 'llama.cpp');
      else if (level === LlamaLogLevel.warn) log.warn({ llama: text }, 'llama.cpp');
      else log.debug({ llama: text }, 'llama.cpp');
    },
  });
}

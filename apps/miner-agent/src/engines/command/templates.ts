import { fileURLToPath } from 'node:url';
import type { EngineLaunch } from '../engine.js';

/** How to run one kind of engine as a process. */
export interface CommandTemplate {
  name: 'vllm' | 'sglang' | 'llama-server';
  /** Executable and its leading arguments (no shell). */
  command: readonly string[];
  /** Arguments for one instance on `port`: the template's own, then the launch's `engine.args`. */
  args(launch: EngineLaunch, port: number): string[];
  /** Extra environment (GPU selection). */
  env(launch: EngineLaunch): Record<string, string>;
  /** Answers 200 once the engine serves requests. */
  healthPath: string;
  readyTimeoutMs: number;
}

const launchArgs = (launch: EngineLaunch): string[] => (launch.spec.name === 'llama' ? [] : launch.spec.args);
// The engine sees only its own GPUs, numbered from 0.
const cudaDevices = (launch: EngineLaunch): Record<string, string> => ({
  CUDA_VISIBLE_DEVICES: launch.gpus.join(','),
});

/** vLLM's OpenAI server (`vllm serve`). Big models load for minutes: a generous readiness timeout. */
export function vllmTemplate(command: readonly string[]): CommandTemplate {
  return {
    name: 'vllm',
    command: [...command, 'serve'],
    args: (launch, port) => [
      launch.model.path,
      ...['--host', '127.0.0.1', '--port', String(port)],
      ...['--served-model-name', launch.model.name],
      ...['--tensor-parallel-size', String(launch.gpus.length)],
      ...['--max-num-seqs', String(launch.concurrency)],
      ...launchArgs(launch),
    ],
    env: cudaDevices,
    healthPath: '/health',
    readyTimeoutMs: 15 * 60_000,
  };
}

/** SGLang's server (`python3 -m sglang.launch_server`). */
export function sglangTemplate(command: readonly string[]): CommandTemplate {
  return {
    name: 'sglang',
    command,
    args: (launch, port) => [
      ...['--model-path', launch.model.path],
      ...['--host', '127.0.0.1', '--port', String(port)],
      ...['--served-model-name', launch.model.name],
      ...['--tp-size', String(launch.gpus.length)],
      ...['--max-running-requests', String(launch.concurrency)],
      ...launchArgs(launch),
    ],
    env: cudaDevices,
    healthPath: '/health',
    readyTimeoutMs: 15 * 60_000,
  };
}

/**
 * llama.cpp's `llama-server` (GGUF models), every layer on the GPU. `command` undefined means
 * `llama-server` is not installed: the llama engine's own server process stands in, on the CPU,
 * with the same flags (it ignores the GPU ones).
 */
export function llamaServerTemplate(command: readonly string[] | undefined): CommandTemplate {
  const standIn = [
    process.execPath,
    fileURLToPath(new URL('../llama/llama-server.main.js', import.meta.url)),
  ];
  return {
    name: 'llama-server',
    command: command ?? standIn,
    args: (launch, port) => [
      ...['--model', launch.model.path],
      ...['--host', '127.0.0.1', '--port', String(port)],
      ...['--alias', launch.model.name],
      ...['--parallel', String(launch.concurrency)],
      '--embeddings',
      ...['--n-gpu-layers', '999'],
      ...launchArgs(launch),
    ],
    env: cudaDevices,
    healthPath: '/health',
    readyTimeoutMs: 5 * 60_000,
  };
}

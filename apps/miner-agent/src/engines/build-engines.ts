import type { Llama } from 'node-llama-cpp';
import type { Logger } from 'pino';
import type { MinerConfig } from '../config.js';
import { findOnPath } from '../shared/find-on-path.js';
import { CommandEngine } from './command/command-engine.js';
import {
  llamaServerTemplate,
  sglangTemplate,
  vllmTemplate,
  type CommandTemplate,
} from './command/templates.js';
import type { Engine } from './engine.js';
import { LlamaEngine } from './llama/llama-engine.js';

/** The engines `ENGINES` offers, configured from the environment. */
export async function buildEngines(
  config: MinerConfig,
  llama: () => Promise<Llama>,
  logger: Logger,
): Promise<Engine[]> {
  const setpriv = await findOnPath('setpriv');
  if (!setpriv) logger.warn('setpriv (util-linux) not found: command engines would outlive a killed agent');
  const command = (template: CommandTemplate): Engine =>
    new CommandEngine({
      template,
      logger,
      ...(setpriv ? { setpriv } : {}),
      ...(config.ENGINE_READY_TIMEOUT_MS === undefined
        ? {}
        : { readyTimeoutMs: config.ENGINE_READY_TIMEOUT_MS }),
    });
  const engines: Engine[] = [];
  for (const name of config.ENGINES) {
    switch (name) {
      case 'llama':
        engines.push(
          new LlamaEngine({
            runtime: llama,
            threads: config.LLAMA_THREADS,
            maxContextSize: config.LLAMA_MAX_CONTEXT,
            logger,
          }),
        );
        break;
      case 'vllm':
        engines.push(command(vllmTemplate(config.VLLM_COMMAND)));
        break;
      case 'sglang':
        engines.push(command(sglangTemplate(config.SGLANG_COMMAND)));
        break;
      case 'llama-server': {
        const installed =
          config.LLAMA_SERVER_COMMAND ?? ((await findOnPath('llama-server')) ? ['llama-server'] : undefined);
        if (installed === undefined)
          logger.info('llama-server not found: its template runs the llama engine as a process');
        engines.push(command(llamaServerTemplate(installed)));
        break;
      }
    }
  }
  return engines;
}

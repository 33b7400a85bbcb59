import { type CommandSet } from '../command/define-command.js';
import { deploymentCommands } from './deployments.commands.js';
import { minerCommands } from './miners.commands.js';

/** The scheduler's operator commands: deployments and the miner fleet. */
export const schedulerCommandSet: CommandSet = {
  groups: [
    {
      name: 'deployments',
      summary: 'create, list, show and delete deployments (models kept running on miners)',
    },
    { name: 'miners', summary: 'the miner fleet as the scheduler sees it' },
  ],
  commands: [...deploymentCommands, ...minerCommands],
};

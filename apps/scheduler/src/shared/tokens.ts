/** Nest injection tokens for what the scheduler gets from outside its config. */
export const SCHEDULER_CLOCK = Symbol.for('tessera.scheduler.clock');
export const SCHEDULER_SECRETS = Symbol.for('tessera.scheduler.secrets');
export const VALIDATOR_KEY = Symbol.for('tessera.scheduler.validatorKey');

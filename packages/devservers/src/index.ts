export { startNatsServer, type NatsServerHandle, type NatsServerOptions } from './nats.js';
export { findPostgresBinDir, startPostgres, type PostgresHandle, type PostgresOptions } from './postgres.js';
export {
  findExecutable,
  findFreePort,
  sleep,
  startManagedProcess,
  waitForPort,
  type ManagedProcess,
  type ManagedProcessOptions,
} from './process.js';
export {
  ChainSpecIntegrityError,
  RAONET_SPEC_SHA256,
  isChainSpecIntegrityError,
  raonetChainSpec,
  startChopsticks,
  type ChopsticksHandle,
  type ChopsticksOptions,
} from './chopsticks.js';

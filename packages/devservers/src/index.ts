export {
  findNatsServer,
  MIN_NATS_SERVER_VERSION,
  parseNatsServerVersion,
  startNatsServer,
  type NatsServerHandle,
  type NatsServerOptions,
} from './nats.js';
export { startNatsCluster, type NatsClusterHandle, type NatsClusterOptions } from './nats-cluster.js';
export {
  envReference,
  natsServerConfig,
  renderNatsConfig,
  type ClusterConfig,
  type EnvReference,
  type JetStreamConfig,
  type NatsConfigValue,
  type NatsServerConfigOptions,
} from './nats-config.js';
export {
  natsAuthorization,
  natsUserPermissions,
  nkeyVariable,
  type NatsAuthorizationOptions,
  type NatsPermissionOptions,
  type NatsUserKeys,
  type NatsUserPermissions,
} from './nats-authorization.js';
export {
  createNatsIdentityKeys,
  createNatsUserKey,
  loadOrCreateNatsIdentityKeys,
  publicKeysOf,
  seedFile,
  type NatsIdentityKey,
  type NatsIdentityKeys,
} from './nats-identity-keys.js';
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

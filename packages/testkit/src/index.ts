export { FakeClock } from './clock.js';
export { sequentialIds, sequentialUuids, uuidv7, type IdFactory } from './ids.js';
export { randomToken } from './random.js';
export { useTestEnvironment, type TestEnvironment, type TestEnvironmentOptions } from './environment.js';
export { startChain, type ChainHarness, type StartChainOptions, type StorageOverrides } from './chain.js';
export type { NatsServerHandle, PostgresHandle } from '@tessera/devservers';
export { eventually, type EventuallyOptions } from './eventually.js';

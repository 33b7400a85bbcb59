// `@tessera/platform/messaging`: everything that needs NATS. The package root stays free of it so
// processes without NATS (the miner agent) load none of it.
export * from '../nats/nats.module.js';
export * from '../rpc/rpc-wire.js';
export * from '../rpc/rpc-call-context.js';
export * from '../rpc/rpc-client.js';
export * from '../rpc/rpc-client-proxy.js';
export * from '../rpc/rpc-server.js';
export * from '../rpc/rpc-handler.decorator.js';
export * from '../rpc/rpc.module.js';
export * from '../eventstore/eventstore.module.js';
// The lease lives with the event store (consumers elect their active replica with it).
export { Lease, type LeaseOptions } from '@tessera/eventstore';
export * from './messaging.module.js';

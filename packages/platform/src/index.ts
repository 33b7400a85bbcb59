// `@tessera/platform`: what every process can use, the miner agent included. Nothing here may
// import NATS, the event store or @nestjs/microservices: those live in `./messaging/`
// (`@tessera/platform/messaging`), and the lint config enforces the split.
export * from './config/define-config.js';
export * from './config/config.module.js';
export * from './logging/index.js';
export * from './telemetry/telemetry.js';
export * from './health/health-registry.js';
export * from './health/health.controller.js';
export * from './health/health.module.js';
export * from './lifecycle/shutdown-registry.js';
export * from './lifecycle/transport-registry.js';
export * from './lifecycle/create-app.js';
export * from './database/database.module.js';
export * from './platform.module.js';
export * from './bootstrap.js';

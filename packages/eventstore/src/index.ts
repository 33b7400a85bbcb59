export * from './errors.js';
export * from './namespace.js';
export * from './event-decoder.js';
export * from './event-store.js';
export * from './command-handler.js';
export * from './aggregate-cache.js';
export * from './streams/ensure-streams.js';
export * from './projections/projection.js';
export * from './projections/projection-runner.js';
export * from './projections/projection-checkpoint.entity.js';
export * from './projections/dead-letter.entity.js';
export * from './tracing/nats-trace-context.js';

import { DeadLetterEntity } from './projections/dead-letter.entity.js';
import { ProjectionCheckpointEntity } from './projections/projection-checkpoint.entity.js';

/** TypeORM entities the projection runner needs in every service's schema. */
export const eventStoreEntities = [ProjectionCheckpointEntity, DeadLetterEntity];

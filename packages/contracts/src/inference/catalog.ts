import { type EventContract } from '../define-event.js';
import { DemandObserved } from './demand-observed.js';
import { RequestCompleted } from './request-completed.js';

/** Every event on the `INFERENCE` stream. */
export const inferenceEventContracts: readonly EventContract[] = [RequestCompleted, DemandObserved];

import { type EventContract } from '../define-event.js';
import { DemandObserved } from './demand-observed.js';
import { InstanceUnhealthy } from './instance-unhealthy.js';
import { ProbeCompleted } from './probe-completed.js';
import { RequestCompleted } from './request-completed.js';

/** Every event on the `INFERENCE` stream. */
export const inferenceEventContracts: readonly EventContract[] = [
  RequestCompleted,
  DemandObserved,
  ProbeCompleted,
  InstanceUnhealthy,
];

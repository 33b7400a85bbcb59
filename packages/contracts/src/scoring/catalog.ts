import { type EventContract } from '../define-event.js';
import { WeightsProposed } from './weights-proposed.js';

/** Every event on the `SCORING` stream. */
export const scoringEventContracts: readonly EventContract[] = [WeightsProposed];

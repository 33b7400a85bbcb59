import { type ScaleReason } from '@tessera/contracts';

/** The autoscaler's knobs (from the scheduler's config). */
export interface AutoscalerSettings {
  /** Scale up when in-flight + queued exceed this share of the target's capacity (0.5). */
  scaleUpUtilisation: number;
  /** Scale down when they are below this share (0.2); between the two nothing moves (hysteresis). */
  scaleDownUtilisation: number;
  /** Most replicas added per decision. */
  maxScaleUpStep: number;
  /** No instance is scaled down before it has been ready this long. */
  minInstanceAgeMs: number;
  /** Least time between any scaling of a deployment and a scale-down of it. */
  scaleDownCooldownMs: number;
}

/** Demand for one deployment, summed over the proxy replicas' latest windows. */
export interface DemandTotals {
  inFlight: number;
  queued: number;
  requests: number;
  rejectedForCapacity: number;
}

/** What the autoscaler decides from, for one deployment. All times in milliseconds. */
export interface AutoscaleInput {
  targetReplicas: number;
  minReplicas: number;
  maxReplicas: number;
  concurrency: number;
  scaleToZeroAfterMs: number;
  /** Undefined when no proxy replica reported recently. */
  demand: DemandTotals | undefined;
  /** The last time demand showed activity (or when the scheduler started watching the deployment). */
  lastActiveAt: number;
  /** How long the youngest ready replica has been ready (the one a scale-down removes); undefined if none is. */
  youngestReadyAgeMs: number | undefined;
  /** When the target last moved, if this scheduler saw it. */
  lastScaledAt: number | undefined;
  now: number;
}

/** A new target and why. */
export interface ScaleDecision {
  toReplicas: number;
  reason: ScaleReason;
}

/**
 * The replica target from demand: up above `scaleUpUtilisation` of capacity (or when requests
 * were refused for capacity), at most `maxScaleUpStep` at a time; down by one below
 * `scaleDownUtilisation`, never before the youngest ready replica reached the minimum age nor
 * within the cool-down; to zero after `scaleToZeroAfterMs` without activity (when `minReplicas`
 * is 0); and from zero the moment any demand appears. Utilisation is measured against the
 * target, not the ready replicas, so replicas still starting are not asked for twice.
 */
export function decideScale(input: AutoscaleInput, settings: AutoscalerSettings): ScaleDecision | undefined {
  const demand = input.demand ?? { inFlight: 0, queued: 0, requests: 0, rejectedForCapacity: 0 };
  const load = demand.inFlight + demand.queued;
  const active = load + demand.requests + demand.rejectedForCapacity > 0;
  const target = input.targetReplicas;

  if (target === 0) {
    return active
      ? { toReplicas: Math.min(input.maxReplicas, Math.max(1, input.minReplicas)), reason: 'scale-from-zero' }
      : undefined;
  }

  const capacity = target * input.concurrency;
  if (load > settings.scaleUpUtilisation * capacity || demand.rejectedForCapacity > 0) {
    const wanted = Math.max(target + 1, Math.ceil(load / (input.concurrency * settings.scaleUpUtilisation)));
    const toReplicas = Math.min(input.maxReplicas, target + settings.maxScaleUpStep, wanted);
    return toReplicas > target ? { toReplicas, reason: 'demand' } : undefined;
  }

  const oldEnough =
    input.youngestReadyAgeMs === undefined || input.youngestReadyAgeMs >= settings.minInstanceAgeMs;
  if (!oldEnough) return undefined;
  if (input.minReplicas === 0 && !active && input.now - input.lastActiveAt >= input.scaleToZeroAfterMs) {
    return { toReplicas: 0, reason: 'idle' };
  }
  const cooledDown =
    input.lastScaledAt === undefined || input.now - input.lastScaledAt >= settings.scaleDownCooldownMs;
  if (
    load < settings.scaleDownUtilisation * capacity &&
    target > Math.max(1, input.minReplicas) &&
    cooledDown
  ) {
    return { toReplicas: target - 1, reason: 'low-utilisation' };
  }
  return undefined;
}

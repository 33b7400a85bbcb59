import {
  ErrorCode,
  InstanceDraining,
  InstanceFailed,
  InstanceLaunching,
  InstanceLost,
  InstancePlaced,
  InstanceReady,
  InstanceStopped,
  TesseraError,
  type DrainReason,
  type EngineName,
  type Event,
  type FailureCause,
  type InstanceStateName,
  type LossCause,
  type PendingEvent,
} from '@tessera/contracts';
import { type Decider } from '@tessera/eventstore';

/** What an instance is, fixed when it is placed. */
export interface InstanceFacts {
  readonly instanceId: string;
  readonly deploymentId: string;
  readonly generation: number;
  readonly minerHotkey: string;
  readonly gpuType: string;
  readonly gpuCount: number;
  readonly gpus: readonly number[];
  readonly model: string;
  readonly engine: EngineName;
  readonly concurrency: number;
  readonly replacesInstanceId: string | null;
}

/** An instance's lifecycle so far. */
export interface InstanceState {
  status: 'absent' | InstanceStateName;
  facts: InstanceFacts | undefined;
  placedAt: string | null;
  launchedAt: string | null;
  readyAt: string | null;
  drainingSince: string | null;
  endedAt: string | null;
  endpoint: string | null;
  drainReason: DrainReason | null;
  /** The failure or loss reason once it ended that way. */
  reason: string | null;
}

export type InstanceCommand =
  | { kind: 'place'; facts: InstanceFacts; at: string }
  | { kind: 'launching'; at: string }
  | { kind: 'ready'; endpoint: string; modelSha256: string; at: string }
  | { kind: 'drain'; reason: DrainReason; at: string }
  | { kind: 'stopped'; at: string }
  | { kind: 'fail'; cause: FailureCause; reason: string; at: string }
  | { kind: 'lose'; cause: LossCause; lastSeenAt: string | null; at: string };

/** States in which an instance holds GPUs on its miner (or was sent there). */
export const LIVE_STATES: ReadonlySet<InstanceStateName> = new Set([
  'placed',
  'launching',
  'ready',
  'draining',
]);

export function isLive(state: InstanceState): boolean {
  return state.status !== 'absent' && LIVE_STATES.has(state.status);
}

/**
 * The instance lifecycle. The scheduler's view of a miner can lag or race (a poll answered
 * before a launch landed, a failure seen after a drain), so a command that comes too late for
 * the current state is a no-op rather than an error: only the first transition out of a state counts.
 */
export const instanceDecider: Decider<InstanceCommand, InstanceState> = {
  initialState: () => ({
    status: 'absent',
    facts: undefined,
    placedAt: null,
    launchedAt: null,
    readyAt: null,
    drainingSince: null,
    endedAt: null,
    endpoint: null,
    drainReason: null,
    reason: null,
  }),

  decide(command, state): PendingEvent[] {
    if (command.kind === 'place') {
      if (state.status !== 'absent') return [];
      const { facts } = command;
      return [
        InstancePlaced.create({
          instanceId: facts.instanceId,
          deploymentId: facts.deploymentId,
          minerHotkey: facts.minerHotkey,
          gpuType: facts.gpuType,
          gpuCount: facts.gpuCount,
          at: command.at,
          generation: facts.generation,
          model: facts.model,
          engine: facts.engine,
          gpus: [...facts.gpus],
          concurrency: facts.concurrency,
          replacesInstanceId: facts.replacesInstanceId,
        }),
      ];
    }
    const facts = state.facts;
    if (!facts) {
      throw new TesseraError(ErrorCode.NotFound, `no instance for a ${command.kind} command`);
    }
    const common = {
      instanceId: facts.instanceId,
      deploymentId: facts.deploymentId,
      minerHotkey: facts.minerHotkey,
      gpuType: facts.gpuType,
      gpuCount: facts.gpuCount,
      at: command.at,
    };
    switch (command.kind) {
      case 'launching':
        return state.status === 'placed' ? [InstanceLaunching.create(common)] : [];
      case 'ready':
        if (state.status !== 'placed' && state.status !== 'launching') return [];
        return [
          InstanceReady.create({
            ...common,
            generation: facts.generation,
            model: facts.model,
            endpoint: command.endpoint,
            concurrency: facts.concurrency,
            modelSha256: command.modelSha256,
          }),
        ];
      case 'drain':
        if (state.status !== 'placed' && state.status !== 'launching' && state.status !== 'ready') return [];
        return [InstanceDraining.create({ ...common, reason: command.reason })];
      case 'stopped':
        if (state.status !== 'draining') return [];
        return [InstanceStopped.create({ ...common, reason: state.drainReason ?? 'scale-down' })];
      case 'fail':
        if (!isLive(state)) return [];
        return [
          InstanceFailed.create({ ...common, cause: command.cause, reason: command.reason.slice(0, 2000) }),
        ];
      case 'lose':
        if (!isLive(state)) return [];
        return [InstanceLost.create({ ...common, cause: command.cause, lastSeenAt: command.lastSeenAt })];
      default: {
        const unhandled: never = command;
        throw new Error(`unhandled instance command ${JSON.stringify(unhandled)}`);
      }
    }
  },

  evolve(state, event: Event): InstanceState {
    if (InstancePlaced.is(event)) {
      const { data } = event;
      state.status = 'placed';
      state.placedAt = data.at;
      state.facts = {
        instanceId: data.instanceId,
        deploymentId: data.deploymentId,
        generation: data.generation,
        minerHotkey: data.minerHotkey,
        gpuType: data.gpuType,
        gpuCount: data.gpuCount,
        gpus: data.gpus,
        model: data.model,
        engine: data.engine,
        concurrency: data.concurrency,
        replacesInstanceId: data.replacesInstanceId,
      };
    } else if (InstanceLaunching.is(event)) {
      state.status = 'launching';
      state.launchedAt = event.data.at;
    } else if (InstanceReady.is(event)) {
      state.status = 'ready';
      state.readyAt = event.data.at;
      state.endpoint = event.data.endpoint;
    } else if (InstanceDraining.is(event)) {
      state.status = 'draining';
      state.drainingSince = event.data.at;
      state.drainReason = event.data.reason;
    } else if (InstanceStopped.is(event)) {
      state.status = 'stopped';
      state.endedAt = event.data.at;
    } else if (InstanceFailed.is(event)) {
      state.status = 'failed';
      state.endedAt = event.data.at;
      state.reason = `${event.data.cause}: ${event.data.reason}`;
    } else if (InstanceLost.is(event)) {
      state.status = 'lost';
      state.endedAt = event.data.at;
      state.reason = event.data.cause;
    }
    return state;
  },
};

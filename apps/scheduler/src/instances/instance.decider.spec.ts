import {
  InstanceDraining,
  InstanceFailed,
  InstanceLaunching,
  InstanceLost,
  InstanceReady,
  InstanceStopped,
  instanceStreamId,
} from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import { deciderHarness } from '../__tests__/decider-harness.js';
import { instanceDecider, isLive, type InstanceFacts } from './instance.decider.js';

const facts: InstanceFacts = {
  instanceId: 'inst-1',
  deploymentId: 'dep-1',
  generation: 1,
  minerHotkey: '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY',
  gpuType: 'cpu',
  gpuCount: 1,
  gpus: [0],
  model: 'tiny-chat',
  engine: 'llama',
  concurrency: 2,
  replacesInstanceId: null,
};
const at = (second: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString();
const sha = 'a'.repeat(64);

const placed = () => {
  const instance = deciderHarness(instanceDecider, instanceStreamId('inst-1'));
  instance.when({ kind: 'place', facts, at: at(0) });
  return instance;
};

describe('instance lifecycle', () => {
  it('goes placed → launching → ready → draining → stopped, each event with GPUs and time', () => {
    const instance = placed();
    expect(InstanceLaunching.is(instance.when({ kind: 'launching', at: at(1) })[0]!)).toBe(true);
    const [ready] = instance.when({
      kind: 'ready',
      endpoint: 'http://m:1/instances/inst-1/v1',
      modelSha256: sha,
      at: at(2),
    });
    expect(InstanceReady.is(ready!) && ready.data).toMatchObject({
      model: 'tiny-chat',
      concurrency: 2,
      gpuType: 'cpu',
      gpuCount: 1,
      at: at(2),
    });
    expect(InstanceDraining.is(instance.when({ kind: 'drain', reason: 'scale-down', at: at(3) })[0]!)).toBe(
      true,
    );
    const [stopped] = instance.when({ kind: 'stopped', at: at(4) });
    expect(InstanceStopped.is(stopped!) && stopped.data.reason).toBe('scale-down');
    expect(isLive(instance.state)).toBe(false);
    expect(instance.state).toMatchObject({ readyAt: at(2), endedAt: at(4) });
  });

  it('makes late or repeated transitions no-ops instead of errors', () => {
    const instance = placed();
    instance.when({ kind: 'ready', endpoint: 'http://m:1/instances/inst-1/v1', modelSha256: sha, at: at(1) });
    expect(instance.when({ kind: 'launching', at: at(2) })).toEqual([]);
    expect(instance.when({ kind: 'ready', endpoint: 'http://m:1/x', modelSha256: sha, at: at(2) })).toEqual(
      [],
    );
    expect(instance.when({ kind: 'stopped', at: at(2) })).toEqual([]);
    const [failed] = instance.when({
      kind: 'fail',
      cause: 'health-checks',
      reason: '3 checks failed',
      at: at(3),
    });
    expect(InstanceFailed.is(failed!)).toBe(true);
    expect(instance.when({ kind: 'lose', cause: 'unreachable', lastSeenAt: at(2), at: at(4) })).toEqual([]);
    expect(instance.when({ kind: 'drain', reason: 'scale-down', at: at(4) })).toEqual([]);
    expect(instance.when({ kind: 'place', facts, at: at(5) })).toEqual([]);
  });

  it('loses a draining instance whose miner went away', () => {
    const instance = placed();
    instance.when({ kind: 'drain', reason: 'deployment-deleted', at: at(1) });
    const [lost] = instance.when({ kind: 'lose', cause: 'deregistered', lastSeenAt: null, at: at(2) });
    expect(InstanceLost.is(lost!) && lost.data).toMatchObject({ cause: 'deregistered', lastSeenAt: null });
  });

  it('refuses commands for an instance that was never placed', () => {
    const instance = deciderHarness(instanceDecider, instanceStreamId('ghost'));
    expect(() => instance.when({ kind: 'launching', at: at(0) })).toThrow(/no instance/);
  });
});

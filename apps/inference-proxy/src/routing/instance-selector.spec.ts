import { InstanceReady, InferenceErrorCode, isTesseraError, type Event } from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import { InstanceSelector } from './instance-selector.js';
import { RoutingTable } from './routing-table.js';

const HOTKEY = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';

function ready(instanceId: string, concurrency: number): Event {
  const pending = InstanceReady.create({
    instanceId,
    deploymentId: 'dep',
    minerHotkey: HOTKEY,
    gpuType: 'cpu',
    gpuCount: 1,
    at: '2026-01-01T00:00:00.000Z',
    generation: 1,
    model: 'm',
    endpoint: `http://127.0.0.1:1/instances/${instanceId}/v1`,
    concurrency,
    modelSha256: 'a'.repeat(64),
  });
  return { ...pending, id: instanceId, occurredAt: '2026-01-01T00:00:00.000Z' } as unknown as Event;
}

function selector(table: RoutingTable, capacityWaitMs = 50) {
  const cold: string[] = [];
  const opened: string[] = [];
  const selector = new InstanceSelector(table, {
    breakerFailures: 2,
    halfOpenAfterMs: 60_000,
    capacityWaitMs,
    queueLimit: 10,
    onBreakerOpened: (instance) => opened.push(instance.instanceId),
    onColdDemand: (deploymentId) => cold.push(deploymentId),
  });
  return { selector, cold, opened };
}

describe('InstanceSelector', () => {
  it('spreads requests by least connections within each instance concurrency', async () => {
    const table = new RoutingTable();
    table.apply(ready('i1', 2));
    table.apply(ready('i2', 2));
    const { selector: pick } = selector(table);
    const leases = await Promise.all([1, 2, 3, 4].map(() => pick.acquire('dep', undefined, new Set())));
    const counts = new Map<string, number>();
    for (const lease of leases)
      counts.set(lease.instance.instanceId, (counts.get(lease.instance.instanceId) ?? 0) + 1);
    expect(counts).toEqual(
      new Map([
        ['i1', 2],
        ['i2', 2],
      ]),
    );
    // Full: the next one waits, and gets the slot that frees first.
    const waiting = pick.acquire('dep', undefined, new Set());
    leases[2]!.release();
    expect((await waiting).instance.instanceId).toBe(leases[2]!.instance.instanceId);
  });

  it('prefers the instance that served the same prefix while it is within two of the least loaded', async () => {
    const table = new RoutingTable();
    table.apply(ready('i1', 10));
    table.apply(ready('i2', 10));
    const { selector: pick } = selector(table);
    pick.rememberAffinity('prefix', 'i2');
    const held = [
      await pick.acquire('dep', 'prefix', new Set()),
      await pick.acquire('dep', 'prefix', new Set()),
    ];
    expect(held.map((lease) => lease.instance.instanceId)).toEqual(['i2', 'i2']);
    const third = await pick.acquire('dep', 'prefix', new Set());
    expect(third.instance.instanceId).toBe('i2');
    // Now i2 has 3 in flight against 0: beyond the slack, least connections wins.
    expect((await pick.acquire('dep', 'prefix', new Set())).instance.instanceId).toBe('i1');
  });

  it('reports cold demand and refuses with NO_CAPACITY after the wait', async () => {
    const table = new RoutingTable();
    table.apply(ready('i1', 1));
    table.apply({
      ...ready('i1', 1),
      type: 'scheduler.InstanceStopped',
      data: { instanceId: 'i1' },
    } as unknown as Event);
    const { selector: pick, cold } = selector(table);
    const err = await pick.acquire('dep', undefined, new Set()).catch((error: unknown) => error);
    expect(isTesseraError(err, InferenceErrorCode.NoCapacity)).toBe(true);
    expect(cold).toEqual(['dep']);
  });

  it('takes an instance out of rotation when its breaker opens, and reports it once', async () => {
    const table = new RoutingTable();
    table.apply(ready('i1', 5));
    table.apply(ready('i2', 5));
    const { selector: pick, opened } = selector(table);
    for (let failure = 0; failure < 2; failure++) {
      const lease = await pick.acquire('dep', undefined, new Set(['i2']));
      await lease.breaker
        .execute(() => Promise.reject(new Error('connect ECONNREFUSED')))
        .catch(() => undefined);
      lease.release();
    }
    expect(opened).toEqual(['i1']);
    for (let attempt = 0; attempt < 5; attempt++) {
      const lease = await pick.acquire('dep', undefined, new Set());
      expect(lease.instance.instanceId).toBe('i2');
      lease.release();
    }
  });
});

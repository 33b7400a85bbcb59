import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DemandObserved, demandStreamId } from '../inference/demand-observed.js';
import { InstanceReady } from './instance-events.js';
import { instanceToken } from './instance-token.js';
import { gpuTypeMatches, instanceStreamId, normalizeGpuType } from './primitives.js';
import { CreateDeployment, UpdateDeployment } from './rpc.js';

const SECRET = 'a-platform-secret-of-32-characters!';
const spec = {
  name: 'tiny-chat',
  ownerAccountId: 'acct-1',
  model: { uri: 'file:///models/tiny.gguf', revision: 'v1', sha256: 'a'.repeat(64) },
  engine: { name: 'llama' },
  gpu: { count: 1 },
  concurrency: 2,
  maxReplicas: 3,
};

const issuePaths = (
  schema: { safeParse(value: unknown): { success: boolean; error?: { issues: { path: PropertyKey[] }[] } } },
  value: unknown,
): string[] => {
  const result = schema.safeParse(value);
  return result.success
    ? []
    : [...new Set((result.error?.issues ?? []).map((issue) => issue.path.map(String).join('.')))];
};

describe('instance tokens', () => {
  it('are the HMAC-SHA256 of the secret over the instance id, base64url, prefixed tsi_', () => {
    const expected = createHmac('sha256', SECRET)
      .update('tessera:instance-token:v1:inst-1')
      .digest('base64url');
    expect(instanceToken(SECRET, 'inst-1')).toBe(`tsi_${expected}`);
    expect(instanceToken(SECRET, 'inst-1')).toMatch(/^tsi_[A-Za-z0-9_-]{43}$/);
  });

  it('differ per instance and per secret', () => {
    expect(instanceToken(SECRET, 'inst-1')).not.toBe(instanceToken(SECRET, 'inst-2'));
    expect(instanceToken(SECRET, 'inst-1')).not.toBe(instanceToken(`${SECRET}x`, 'inst-1'));
  });

  it('refuse a short secret', () => {
    expect(() => instanceToken('short', 'inst-1')).toThrow(RangeError);
  });
});

describe('GPU types', () => {
  it('normalise nvidia-smi names', () => {
    expect(normalizeGpuType('NVIDIA H100 80GB HBM3')).toBe('h100-80gb-hbm3');
    expect(normalizeGpuType('NVIDIA A100-SXM4-80GB')).toBe('a100-sxm4-80gb');
    expect(normalizeGpuType('cpu')).toBe('cpu');
    expect(normalizeGpuType('  ')).toBe('unknown');
  });

  it('match the same type or a more specific one, never a longer word', () => {
    expect(gpuTypeMatches('h100-80gb-hbm3', 'h100')).toBe(true);
    expect(gpuTypeMatches('h100', 'h100')).toBe(true);
    expect(gpuTypeMatches('h1000', 'h100')).toBe(false);
    expect(gpuTypeMatches('a100', 'h100')).toBe(false);
  });
});

describe('deployment requests', () => {
  it('accept a spec and fill in the defaults', () => {
    const parsed = CreateDeployment.request.parse(spec);
    expect(parsed).toMatchObject({
      minReplicas: 0,
      scaleToZeroAfterSeconds: 300,
      visibility: 'private',
      gpu: { count: 1, minVramMiB: 0, allowedTypes: [], excludedTypes: [] },
    });
  });

  it('name the field of each mistake', () => {
    expect(issuePaths(CreateDeployment.request, { ...spec, minReplicas: 4 })).toEqual(['minReplicas']);
    expect(
      issuePaths(CreateDeployment.request, {
        ...spec,
        gpu: { count: 1, allowedTypes: ['h100'], excludedTypes: ['h100'] },
      }),
    ).toEqual(['gpu.excludedTypes']);
    expect(issuePaths(CreateDeployment.request, { ...spec, deploymentId: 'Has.Dots' })).toEqual([
      'deploymentId',
    ]);
    expect(
      issuePaths(CreateDeployment.request, { ...spec, model: { ...spec.model, sha256: 'abc' } }),
    ).toEqual(['model.sha256']);
    expect(issuePaths(CreateDeployment.request, { ...spec, gpu: { count: 0 } })).toEqual(['gpu.count']);
    expect(issuePaths(CreateDeployment.request, { ...spec, name: 'has space' })).toEqual(['name']);
    expect(issuePaths(UpdateDeployment.request, { deploymentId: 'd1', changes: {} })).toEqual(['changes']);
    expect(
      issuePaths(UpdateDeployment.request, { deploymentId: 'd1', changes: { ownerAccountId: 'x' } }),
    ).toEqual(['changes']);
  });
});

describe('event shapes', () => {
  it('InstanceReady carries what the proxy routes on, and no token', () => {
    const event = InstanceReady.create({
      instanceId: 'inst-1',
      deploymentId: 'dep-1',
      minerHotkey: '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY',
      gpuType: 'cpu',
      gpuCount: 1,
      at: '2026-01-01T00:00:00.000Z',
      generation: 1,
      model: 'tiny-chat',
      endpoint: 'http://127.0.0.1:8091/instances/inst-1/v1',
      concurrency: 2,
      modelSha256: 'a'.repeat(64),
    });
    expect(Object.keys(event.data)).not.toContain('token');
    expect(instanceStreamId('inst-1')).toBe('scheduler.instance.inst-1');
  });

  it('demand reports have one aggregate per deployment and proxy replica', () => {
    expect(demandStreamId('dep-1', 'proxy-a')).toBe('inference.demand.dep-1:proxy-a');
    expect(() =>
      DemandObserved.create({
        deploymentId: 'dep-1',
        source: 'proxy a',
        windowStart: '2026-01-01T00:00:00.000Z',
        windowMs: 1000,
        inFlight: 0,
        queued: 1,
        requests: 1,
        rejectedForCapacity: 0,
      }),
    ).toThrow(/source/);
  });
});

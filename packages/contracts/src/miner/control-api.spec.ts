import { describe, expect, it } from 'vitest';
import { MinerControlApi, launchInstanceRequestSchema, minerControlPath } from './control-api.js';

const launch = {
  instanceId: 'inst-1',
  deploymentId: 'dep-1',
  model: { name: 'tiny', uri: 'file:///models/tiny.gguf' },
  engine: { name: 'llama' },
  gpus: [0],
  concurrency: 2,
  dataPlaneToken: 'x'.repeat(43),
};

const issuePaths = (value: unknown): string[] => {
  const result = launchInstanceRequestSchema.safeParse(value);
  return result.success ? [] : result.error.issues.map((issue) => issue.path.join('.'));
};

describe('miner control API contracts', () => {
  it('accepts a launch and gives command engines an empty argument list by default', () => {
    expect(issuePaths(launch)).toEqual([]);
    const parsed = launchInstanceRequestSchema.parse({ ...launch, engine: { name: 'vllm' } });
    expect(parsed.engine).toEqual({ name: 'vllm', args: [] });
  });

  it('names the field of a bad launch', () => {
    expect(issuePaths({ ...launch, gpus: [0, 0] })).toEqual(['gpus']);
    expect(issuePaths({ ...launch, gpus: [] })).toEqual(['gpus']);
    expect(issuePaths({ ...launch, dataPlaneToken: 'short' })).toEqual(['dataPlaneToken']);
    expect(issuePaths({ ...launch, instanceId: '../etc' })).toEqual(['instanceId']);
    expect(issuePaths({ ...launch, engine: { name: 'tgi' } })).toEqual(['engine.name']);
    expect(issuePaths({ ...launch, model: { name: 'tiny', uri: 'x', sha256: 'ABC' } })).toEqual([
      'model.sha256',
    ]);
  });

  it('builds route paths with the instance id escaped', () => {
    expect(minerControlPath(MinerControlApi.capacity)).toBe('/capacity');
    expect(minerControlPath(MinerControlApi.getInstance, 'a.b_c')).toBe('/instances/a.b_c');
    expect(() => minerControlPath(MinerControlApi.stopInstance)).toThrow(RangeError);
  });
});

import {
  DEPLOYMENT_CATALOG_STREAM_ID,
  DeploymentCreated,
  DeploymentDeleted,
  DeploymentScaled,
  DeploymentUpdated,
  ErrorCode,
  SchedulerErrorCode,
  deploymentSpecFieldsSchema,
  isTesseraError,
  isValidationError,
  type DeploymentSpec,
} from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import { deciderHarness } from '../__tests__/decider-harness.js';
import { catalogSnapshotCodec, deploymentCatalogDecider } from './deployment-catalog.decider.js';

const spec = (overrides: Partial<DeploymentSpec> = {}): DeploymentSpec =>
  deploymentSpecFieldsSchema.parse({
    name: 'tiny-chat',
    ownerAccountId: 'acct-1',
    model: { uri: 'file:///m.gguf', revision: 'v1', sha256: 'a'.repeat(64) },
    engine: { name: 'llama' },
    gpu: { count: 1 },
    concurrency: 2,
    minReplicas: 1,
    maxReplicas: 4,
    ...overrides,
  });

const given = () => {
  const catalog = deciderHarness(deploymentCatalogDecider, DEPLOYMENT_CATALOG_STREAM_ID);
  catalog.when({ kind: 'create', deploymentId: 'dep-1', spec: spec() });
  return catalog;
};

const codeOf = (work: () => unknown): string | undefined => {
  try {
    work();
    return undefined;
  } catch (err) {
    return isTesseraError(err) ? err.code : 'not a TesseraError';
  }
};

describe('deployment catalog', () => {
  it('creates a deployment with generation 1 and minReplicas as its target', () => {
    const catalog = deciderHarness(deploymentCatalogDecider, DEPLOYMENT_CATALOG_STREAM_ID);
    const [created] = catalog.when({ kind: 'create', deploymentId: 'dep-1', spec: spec({ minReplicas: 2 }) });
    expect(DeploymentCreated.is(created!)).toBe(true);
    expect(created!.data).toMatchObject({ deploymentId: 'dep-1', generation: 1, targetReplicas: 2 });
  });

  it('treats a retried create as a no-op and refuses the same id with another spec', () => {
    const catalog = given();
    expect(catalog.when({ kind: 'create', deploymentId: 'dep-1', spec: spec() })).toEqual([]);
    expect(
      codeOf(() => catalog.when({ kind: 'create', deploymentId: 'dep-1', spec: spec({ concurrency: 3 }) })),
    ).toBe(SchedulerErrorCode.DeploymentExists);
  });

  it('keeps names unique among live deployments, and frees a name on delete', () => {
    const catalog = given();
    expect(codeOf(() => catalog.when({ kind: 'create', deploymentId: 'dep-2', spec: spec() }))).toBe(
      SchedulerErrorCode.NameTaken,
    );
    const [deleted] = catalog.when({ kind: 'delete', deploymentId: 'dep-1', actingFor: undefined });
    expect(DeploymentDeleted.is(deleted!)).toBe(true);
    expect(catalog.when({ kind: 'delete', deploymentId: 'dep-1', actingFor: undefined })).toEqual([]);
    expect(catalog.when({ kind: 'create', deploymentId: 'dep-2', spec: spec() })).toHaveLength(1);
    expect(
      codeOf(() =>
        catalog.when({
          kind: 'update',
          deploymentId: 'dep-1',
          actingFor: undefined,
          changes: { concurrency: 1 },
        }),
      ),
    ).toBe(SchedulerErrorCode.DeploymentDeleted);
  });

  it('starts a new generation only for changes that need new replicas', () => {
    const catalog = given();
    const [scalingOnly] = catalog.when({
      kind: 'update',
      deploymentId: 'dep-1',
      actingFor: undefined,
      changes: { maxReplicas: 6, visibility: 'public' },
    });
    expect(DeploymentUpdated.is(scalingOnly!) && scalingOnly.data).toMatchObject({
      generation: 1,
      changed: ['maxReplicas', 'visibility'],
    });
    const [relaunch] = catalog.when({
      kind: 'update',
      deploymentId: 'dep-1',
      actingFor: undefined,
      changes: { model: { uri: 'file:///m2.gguf', revision: 'v2', sha256: 'b'.repeat(64) } },
    });
    expect(DeploymentUpdated.is(relaunch!) && relaunch.data.generation).toBe(2);
    expect(
      catalog.when({
        kind: 'update',
        deploymentId: 'dep-1',
        actingFor: undefined,
        changes: { maxReplicas: 6 },
      }),
    ).toEqual([]);
  });

  it('moves the target into new bounds in the same decision', () => {
    const catalog = given();
    const events = catalog.when({
      kind: 'update',
      deploymentId: 'dep-1',
      actingFor: undefined,
      changes: { minReplicas: 3 },
    });
    expect(events.map((event) => DeploymentScaled.is(event) && event.data)).toEqual([
      false,
      { deploymentId: 'dep-1', fromReplicas: 1, toReplicas: 3, reason: 'spec' },
    ]);
  });

  it('checks the merged spec and names the field under changes', () => {
    const catalog = given();
    try {
      catalog.when({
        kind: 'update',
        deploymentId: 'dep-1',
        actingFor: undefined,
        changes: { maxReplicas: 0 },
      });
      expect.unreachable();
    } catch (err) {
      expect(isValidationError(err) && err.issues.map((issue) => issue.path)).toContain(
        'changes.maxReplicas',
      );
    }
    try {
      catalog.when({
        kind: 'update',
        deploymentId: 'dep-1',
        actingFor: undefined,
        changes: { minReplicas: 9 },
      });
      expect.unreachable();
    } catch (err) {
      expect(isValidationError(err) && err.issues.map((issue) => issue.path)).toEqual([
        'changes.minReplicas',
      ]);
    }
    expect(catalog.state.deployments.get('dep-1')?.spec.minReplicas).toBe(1);
  });

  it("answers NOT_FOUND for another account's deployment", () => {
    const catalog = given();
    expect(codeOf(() => catalog.when({ kind: 'delete', deploymentId: 'dep-1', actingFor: 'acct-2' }))).toBe(
      ErrorCode.NotFound,
    );
    expect(catalog.state.deployments.get('dep-1')?.status).toBe('active');
  });

  it('clamps the autoscaler between min and max and ignores a no-change', () => {
    const catalog = given();
    const [up] = catalog.when({ kind: 'scale', deploymentId: 'dep-1', toReplicas: 10, reason: 'demand' });
    expect(DeploymentScaled.is(up!) && up.data.toReplicas).toBe(4);
    expect(catalog.when({ kind: 'scale', deploymentId: 'dep-1', toReplicas: 4, reason: 'demand' })).toEqual(
      [],
    );
    const [down] = catalog.when({ kind: 'scale', deploymentId: 'dep-1', toReplicas: 0, reason: 'idle' });
    expect(DeploymentScaled.is(down!) && down.data.toReplicas).toBe(1);
    expect(catalog.when({ kind: 'scale', deploymentId: 'nope', toReplicas: 1, reason: 'demand' })).toEqual(
      [],
    );
  });

  it('round-trips its snapshot', () => {
    const catalog = given();
    catalog.when({ kind: 'create', deploymentId: 'dep-2', spec: spec({ name: 'other' }) });
    catalog.when({ kind: 'delete', deploymentId: 'dep-2', actingFor: undefined });
    const decoded = catalogSnapshotCodec.decode(
      JSON.parse(JSON.stringify(catalogSnapshotCodec.encode(catalog.state))),
    );
    expect(decoded).toEqual(catalog.state);
  });
});

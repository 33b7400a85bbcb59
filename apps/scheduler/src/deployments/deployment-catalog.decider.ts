import {
  DeploymentCreated,
  DeploymentDeleted,
  DeploymentScaled,
  DeploymentUpdated,
  ErrorCode,
  SchedulerErrorCode,
  TesseraError,
  ValidationError,
  checkDeploymentSpec,
  deploymentSpecFieldsSchema,
  toValidationIssues,
  type DeploymentSpec,
  type Event,
  type PendingEvent,
  type ScaleReason,
} from '@tessera/contracts';
import { type Decider } from '@tessera/eventstore';
import { z } from 'zod';

/** One deployment as the catalog keeps it. */
export interface DeploymentRecord {
  readonly deploymentId: string;
  spec: DeploymentSpec;
  generation: number;
  targetReplicas: number;
  status: 'active' | 'deleted';
  createdAt: string;
  updatedAt: string;
}

/** Every deployment, and the names live ones hold. */
export interface CatalogState {
  readonly deployments: Map<string, DeploymentRecord>;
  /** name → deployment id, for active deployments only. */
  readonly names: Map<string, string>;
}

/** What may be changed by an update (everything but the owner). */
export type DeploymentChanges = Partial<Omit<DeploymentSpec, 'ownerAccountId'>>;

export type CatalogCommand =
  | { kind: 'create'; deploymentId: string; spec: DeploymentSpec }
  | { kind: 'update'; deploymentId: string; actingFor: string | undefined; changes: DeploymentChanges }
  | { kind: 'scale'; deploymentId: string; toReplicas: number; reason: ScaleReason }
  | { kind: 'delete'; deploymentId: string; actingFor: string | undefined };

/** Fields whose change needs new replicas (a new generation); the rest apply in place. */
const RELAUNCH_FIELDS = ['name', 'model', 'engine', 'gpu', 'concurrency'] as const;

export const deploymentCatalogDecider: Decider<CatalogCommand, CatalogState> = {
  initialState: () => ({ deployments: new Map(), names: new Map() }),

  decide(command, state): PendingEvent[] {
    switch (command.kind) {
      case 'create':
        return decideCreate(command, state);
      case 'update':
        return decideUpdate(command, state);
      case 'scale': {
        const record = state.deployments.get(command.deploymentId);
        if (!record || record.status === 'deleted') return [];
        const toReplicas = clamp(command.toReplicas, record.spec.minReplicas, record.spec.maxReplicas);
        if (toReplicas === record.targetReplicas) return [];
        return [
          DeploymentScaled.create({
            deploymentId: record.deploymentId,
            fromReplicas: record.targetReplicas,
            toReplicas,
            reason: command.reason,
          }),
        ];
      }
      case 'delete': {
        const record = visibleRecord(state, command.deploymentId, command.actingFor);
        if (record.status === 'deleted') return [];
        return [DeploymentDeleted.create({ deploymentId: record.deploymentId, name: record.spec.name })];
      }
      default: {
        const unhandled: never = command;
        throw new Error(`unhandled catalog command ${JSON.stringify(unhandled)}`);
      }
    }
  },

  evolve(state, event: Event): CatalogState {
    if (DeploymentCreated.is(event)) {
      state.deployments.set(event.data.deploymentId, {
        deploymentId: event.data.deploymentId,
        spec: event.data.spec,
        generation: event.data.generation,
        targetReplicas: event.data.targetReplicas,
        status: 'active',
        createdAt: event.occurredAt,
        updatedAt: event.occurredAt,
      });
      state.names.set(event.data.spec.name, event.data.deploymentId);
    } else if (DeploymentUpdated.is(event)) {
      const record = state.deployments.get(event.data.deploymentId);
      if (record) {
        if (state.names.get(record.spec.name) === record.deploymentId) state.names.delete(record.spec.name);
        record.spec = event.data.spec;
        record.generation = event.data.generation;
        record.updatedAt = event.occurredAt;
        state.names.set(record.spec.name, record.deploymentId);
      }
    } else if (DeploymentScaled.is(event)) {
      const record = state.deployments.get(event.data.deploymentId);
      if (record) {
        record.targetReplicas = event.data.toReplicas;
        record.updatedAt = event.occurredAt;
      }
    } else if (DeploymentDeleted.is(event)) {
      const record = state.deployments.get(event.data.deploymentId);
      if (record) {
        record.status = 'deleted';
        record.targetReplicas = 0;
        record.updatedAt = event.occurredAt;
        if (state.names.get(record.spec.name) === record.deploymentId) state.names.delete(record.spec.name);
      }
    }
    return state;
  },
};

function decideCreate(
  command: Extract<CatalogCommand, { kind: 'create' }>,
  state: CatalogState,
): PendingEvent[] {
  const existing = state.deployments.get(command.deploymentId);
  if (existing) {
    // A retried create (same id, same spec) is a no-op; anything else is a clash.
    if (existing.status === 'active' && sameJson(existing.spec, command.spec)) return [];
    throw new TesseraError(
      SchedulerErrorCode.DeploymentExists,
      `deployment ${command.deploymentId} already exists${existing.status === 'deleted' ? ' (deleted)' : ''} with another spec`,
      { details: { field: 'deploymentId', deploymentId: command.deploymentId } },
    );
  }
  assertNameFree(state, command.spec.name, command.deploymentId, 'name');
  return [
    DeploymentCreated.create({
      deploymentId: command.deploymentId,
      spec: command.spec,
      generation: 1,
      targetReplicas: command.spec.minReplicas,
    }),
  ];
}

function decideUpdate(
  command: Extract<CatalogCommand, { kind: 'update' }>,
  state: CatalogState,
): PendingEvent[] {
  const record = visibleRecord(state, command.deploymentId, command.actingFor);
  if (record.status === 'deleted') {
    throw new TesseraError(
      SchedulerErrorCode.DeploymentDeleted,
      `deployment ${record.deploymentId} was deleted`,
      {
        details: { deploymentId: record.deploymentId },
      },
    );
  }
  const spec = mergeSpec(record.spec, command.changes);
  const changed = (Object.keys(spec) as (keyof DeploymentSpec)[]).filter(
    (field) => !sameJson(spec[field], record.spec[field]),
  );
  if (changed.length === 0) return [];
  if (spec.name !== record.spec.name) assertNameFree(state, spec.name, record.deploymentId, 'changes.name');
  const relaunch = changed.some((field) => (RELAUNCH_FIELDS as readonly string[]).includes(field));
  const events: PendingEvent[] = [
    DeploymentUpdated.create({
      deploymentId: record.deploymentId,
      spec,
      generation: relaunch ? record.generation + 1 : record.generation,
      changed,
    }),
  ];
  const target = clamp(record.targetReplicas, spec.minReplicas, spec.maxReplicas);
  if (target !== record.targetReplicas) {
    // In the same decision, so the target is never outside the new bounds.
    events.push(
      DeploymentScaled.create({
        deploymentId: record.deploymentId,
        fromReplicas: record.targetReplicas,
        toReplicas: target,
        reason: 'spec',
      }),
    );
  }
  return events;
}

/** The current spec with the changes applied, checked as a whole; errors name `changes.<field>`. */
function mergeSpec(current: DeploymentSpec, changes: DeploymentChanges): DeploymentSpec {
  const merged = { ...current, ...changes, gpu: changes.gpu ?? current.gpu };
  const checked = deploymentSpecFieldsSchema
    .superRefine((spec, context) => checkDeploymentSpec(spec, context, ['changes']))
    .safeParse(merged);
  if (!checked.success) {
    const issues = toValidationIssues(checked.error).map((issue) => ({
      ...issue,
      path: issue.path.startsWith('changes') ? issue.path : `changes.${issue.path}`,
    }));
    throw new ValidationError('deployment update', issues);
  }
  return checked.data;
}

function assertNameFree(state: CatalogState, name: string, deploymentId: string, field: string): void {
  const holder = state.names.get(name);
  if (holder !== undefined && holder !== deploymentId) {
    throw new TesseraError(
      SchedulerErrorCode.NameTaken,
      `another deployment already serves the name ${name}`,
      {
        details: { field, name },
      },
    );
  }
}

/**
 * The deployment, or NOT_FOUND — also when a caller acting for a customer asks about another
 * account's deployment, so nobody learns that it exists.
 */
export function visibleRecord(
  state: CatalogState,
  deploymentId: string,
  actingFor: string | undefined,
): DeploymentRecord {
  const record = state.deployments.get(deploymentId);
  if (!record || (actingFor !== undefined && record.spec.ownerAccountId !== actingFor)) {
    throw new TesseraError(ErrorCode.NotFound, `no deployment ${deploymentId}`, {
      details: { deploymentId },
    });
  }
  return record;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** Objects with sorted keys, so two equal specs compare equal whatever order their fields came in. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([key, field]) => [key, canonical(field)]),
    );
  }
  return value;
}

const catalogSnapshotSchema = z.object({
  deployments: z.array(
    z.object({
      deploymentId: z.string(),
      spec: deploymentSpecFieldsSchema,
      generation: z.int().positive(),
      targetReplicas: z.int().nonnegative(),
      status: z.enum(['active', 'deleted']),
      createdAt: z.string(),
      updatedAt: z.string(),
    }),
  ),
});

/** Snapshot codec: the records as a list (names are derived from them). */
export const catalogSnapshotCodec = {
  schemaVersion: 1,
  encode: (state: CatalogState): unknown => ({ deployments: [...state.deployments.values()] }),
  decode: (encoded: unknown): CatalogState => {
    const { deployments } = catalogSnapshotSchema.parse(encoded);
    const state: CatalogState = { deployments: new Map(), names: new Map() };
    for (const record of deployments) {
      state.deployments.set(record.deploymentId, record);
      if (record.status === 'active') state.names.set(record.spec.name, record.deploymentId);
    }
    return state;
  },
};

import { z } from 'zod';
import { accountIdSchema } from '../billing/primitives.js';
import { ss58AddressSchema } from '../chain/primitives.js';
import { defineRpc } from '../define-rpc.js';
import { ErrorCode } from '../errors.js';
import { engineNameSchema } from '../miner/control-api.js';
import {
  SchedulerErrorCode,
  checkDeploymentSpec,
  deploymentModelSchema,
  deploymentSpecFieldsSchema,
  gpuRequirementsSchema,
  gpuTypeSchema,
  instanceIdSchema,
  schedulerDeploymentIdSchema,
  visibilitySchema,
} from './primitives.js';

/** A deployment as the scheduler keeps it. */
export const deploymentViewSchema = deploymentSpecFieldsSchema.extend({
  deploymentId: schedulerDeploymentIdSchema,
  generation: z.int().positive(),
  /** Replicas the scheduler is keeping now (the autoscaler moves it between min and max). */
  targetReplicas: z.int().nonnegative(),
  status: z.enum(['active', 'deleted']),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type DeploymentView = z.infer<typeof deploymentViewSchema>;

export const instanceStateNameSchema = z.enum([
  'placed',
  'launching',
  'ready',
  'draining',
  'stopped',
  'failed',
  'lost',
]);
export type InstanceStateName = z.infer<typeof instanceStateNameSchema>;

/** One instance, from the scheduler's projection of its events. */
export const instanceViewSchema = z.object({
  instanceId: instanceIdSchema,
  deploymentId: schedulerDeploymentIdSchema,
  generation: z.int().positive(),
  minerHotkey: ss58AddressSchema,
  state: instanceStateNameSchema,
  gpuType: gpuTypeSchema,
  gpuCount: z.int().positive(),
  gpus: z.array(z.int().nonnegative()),
  /** The data-plane base URL once ready; null before. */
  endpoint: z.url().nullable(),
  placedAt: z.iso.datetime(),
  readyAt: z.iso.datetime().nullable(),
  /** When it stopped, failed or was lost; null while it lives. */
  endedAt: z.iso.datetime().nullable(),
  /** The failure, loss or drain reason; null otherwise. */
  reason: z.string().nullable(),
});
export type InstanceView = z.infer<typeof instanceViewSchema>;

/**
 * A caller acting for a customer (the inference proxy) passes the customer's account: a
 * deployment of another account is then answered as `NOT_FOUND`, so nobody learns of it.
 */
const actingForSchema = accountIdSchema.optional();

/** Creates a deployment. Retrying with the same `deploymentId` and spec returns the same deployment. */
export const CreateDeployment = defineRpc({
  subject: 'rpc.scheduler.createDeployment',
  request: deploymentSpecFieldsSchema
    .extend({
      /** Chosen by the caller to make a retried create idempotent; minted (UUIDv7) when omitted. */
      deploymentId: schedulerDeploymentIdSchema.optional(),
    })
    .superRefine((spec, context) => checkDeploymentSpec(spec, context)),
  response: deploymentViewSchema,
  errors: [SchedulerErrorCode.DeploymentExists, SchedulerErrorCode.NameTaken],
});

/** The spec fields an update may change (the owner stays); only the given ones change. */
export const deploymentChangesSchema = z
  .object({
    name: deploymentSpecFieldsSchema.shape.name,
    model: deploymentModelSchema,
    engine: deploymentSpecFieldsSchema.shape.engine,
    gpu: gpuRequirementsSchema,
    concurrency: deploymentSpecFieldsSchema.shape.concurrency,
    minReplicas: z.int().min(0).max(1000),
    maxReplicas: z.int().min(1).max(1000),
    scaleToZeroAfterSeconds: z
      .int()
      .min(0)
      .max(30 * 86_400),
    visibility: visibilitySchema,
  })
  .partial()
  .strict();

/**
 * Changes a deployment. Model, engine, GPUs, concurrency or name start a new generation: new
 * replicas are placed, and the old ones drain once enough new ones are ready. The merged spec is
 * checked as a whole; errors name the field under `changes`.
 */
export const UpdateDeployment = defineRpc({
  subject: 'rpc.scheduler.updateDeployment',
  request: z.object({
    deploymentId: schedulerDeploymentIdSchema,
    ownerAccountId: actingForSchema,
    changes: deploymentChangesSchema.refine((changes) => Object.keys(changes).length > 0, {
      message: 'must change at least one field',
    }),
  }),
  response: deploymentViewSchema,
  errors: [ErrorCode.NotFound, SchedulerErrorCode.DeploymentDeleted, SchedulerErrorCode.NameTaken],
});

/** One deployment with its live instances. */
export const GetDeployment = defineRpc({
  subject: 'rpc.scheduler.getDeployment',
  request: z.object({ deploymentId: schedulerDeploymentIdSchema, ownerAccountId: actingForSchema }),
  response: deploymentViewSchema.extend({ instances: z.array(instanceViewSchema) }),
  errors: [ErrorCode.NotFound],
});

/** Deployments, oldest first; deleted ones only when asked. */
export const ListDeployments = defineRpc({
  subject: 'rpc.scheduler.listDeployments',
  request: z.object({
    ownerAccountId: actingForSchema,
    visibility: visibilitySchema.optional(),
    includeDeleted: z.boolean().default(false),
  }),
  response: z.object({ deployments: z.array(deploymentViewSchema) }),
});

/** Deletes a deployment: its replicas drain and stop. Deleting it again answers the same. */
export const DeleteDeployment = defineRpc({
  subject: 'rpc.scheduler.deleteDeployment',
  request: z.object({ deploymentId: schedulerDeploymentIdSchema, ownerAccountId: actingForSchema }),
  response: z.object({ deploymentId: schedulerDeploymentIdSchema, status: z.literal('deleted') }),
  errors: [ErrorCode.NotFound],
});

/** Instances, newest first: live ones by default, or every one. */
export const ListInstances = defineRpc({
  subject: 'rpc.scheduler.listInstances',
  request: z.object({
    deploymentId: schedulerDeploymentIdSchema.optional(),
    minerHotkey: ss58AddressSchema.optional(),
    includeEnded: z.boolean().default(false),
    limit: z.int().min(1).max(10_000).default(1_000),
  }),
  response: z.object({ instances: z.array(instanceViewSchema) }),
});

/** One miner as the scheduler sees it: from the chain, and from its last signed polls. */
export const minerViewSchema = z.object({
  hotkey: ss58AddressSchema,
  coldkey: ss58AddressSchema,
  uid: z.int().nonnegative(),
  /** The axon as announced on chain; null until the miner served one. */
  axon: z.object({ ip: z.string(), port: z.int().min(0).max(65_535) }).nullable(),
  /** Where the scheduler reaches it (after the address map); null without an axon. */
  baseUrl: z.url().nullable(),
  /** `healthy`: its last poll answered; `unreachable`: several polls in a row failed; `unknown`: not polled yet. */
  status: z.enum(['unknown', 'healthy', 'unreachable']),
  lastSeenAt: z.iso.datetime().nullable(),
  consecutiveFailures: z.int().nonnegative(),
  /** Its last capacity report; null before the first answer. */
  capacity: z
    .object({
      gpus: z.array(
        z.object({
          index: z.int().nonnegative(),
          gpuType: gpuTypeSchema,
          memoryTotalMiB: z.int().nonnegative(),
          /** The instance holding it on the miner (any validator's); null when free. */
          instanceId: z.string().nullable(),
        }),
      ),
      engines: z.array(engineNameSchema),
      maxInstances: z.int().positive(),
    })
    .nullable(),
  lastError: z.string().nullable(),
});
export type MinerView = z.infer<typeof minerViewSchema>;

/** The fleet: every registered miner of the scheduler's subnet with its last known state. */
export const ListMiners = defineRpc({
  subject: 'rpc.scheduler.listMiners',
  request: z.object({}),
  response: z.object({
    netuid: z.int().nonnegative(),
    /** When the scheduler holding the placement lease last wrote the fleet's state; null if never. */
    observedAt: z.iso.datetime().nullable(),
    miners: z.array(minerViewSchema),
  }),
});

import { z } from 'zod';
import { accountIdSchema } from '../billing/primitives.js';
import { engineSpecSchema, sha256HexSchema } from '../miner/control-api.js';
import { streamIdOf } from '../streams.js';

/** Error codes the scheduler's RPCs answer with on purpose, besides validation and `NOT_FOUND`. */
export const SchedulerErrorCode = {
  /** A deployment with this id exists with another spec (a create retried with the same spec is a no-op). */
  DeploymentExists: 'scheduler.DEPLOYMENT_EXISTS',
  /** Another live deployment already serves this name (names are what clients put in `model`). */
  NameTaken: 'scheduler.DEPLOYMENT_NAME_TAKEN',
  /** The deployment was deleted; it can no longer be changed. */
  DeploymentDeleted: 'scheduler.DEPLOYMENT_DELETED',
} as const;

/**
 * A deployment id: lower-case letters, digits and '-'. It is a subject token
 * (`scheduler.instance.…` events name it) and a path segment on miners, so nothing needs escaping.
 */
export const schedulerDeploymentIdSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9-]{0,63}$/,
    "must be 1–64 lower-case letters, digits or '-', not starting with '-'",
  );

/** An instance id (the scheduler mints UUIDv7s): the same alphabet as deployment ids. */
export const instanceIdSchema = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9-]{0,63}$/,
    "must be 1–64 lower-case letters, digits or '-', not starting with '-'",
  );

/** The name clients send as `model` (OpenAI's field); the engine serves the model under it. */
export const modelNameSchema = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

/**
 * A GPU type as the scheduler, billing's price book and the scorer name it: the GPU's name
 * normalised by {@link normalizeGpuType} (`NVIDIA H100 80GB HBM3` → `h100-80gb-hbm3`).
 */
export const gpuTypeSchema = z
  .string()
  .max(100)
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, "must be lower-case words joined by '-' (e.g. h100-80gb-hbm3)");

/** Turns a GPU name from `nvidia-smi` (or a miner's declared name) into a {@link gpuTypeSchema} value. */
export function normalizeGpuType(name: string): string {
  const words = name
    .toLowerCase()
    .replace(/^nvidia\s+/, '')
    .split(/[^a-z0-9]+/)
    .filter((word) => word !== '');
  return words.length === 0 ? 'unknown' : words.join('-').slice(0, 100).replace(/-+$/, '');
}

/**
 * Whether a GPU type satisfies an allowed/excluded entry: the same type, or a more specific one
 * (`h100` matches `h100-80gb-hbm3`, not `h1000`).
 */
export function gpuTypeMatches(gpuType: string, pattern: string): boolean {
  return gpuType === pattern || gpuType.startsWith(`${pattern}-`);
}

/** The model a deployment serves. The sha256 is checked before an instance counts as ready. */
export const deploymentModelSchema = z.object({
  /** A local path, `file:` URL, or `http(s)` URL the miner downloads. */
  uri: z.string().min(1).max(2000),
  /** The model's revision as the operator names it (a tag, a commit); recorded, not interpreted. */
  revision: z.string().min(1).max(200),
  /** sha256 of the model file: miners refuse another file, and the scheduler checks what they report. */
  sha256: sha256HexSchema,
});
export type DeploymentModel = z.infer<typeof deploymentModelSchema>;

/** What a replica needs: GPUs on one miner, all of one type. */
export const gpuRequirementsSchema = z.object({
  /** GPUs per replica, all on the same miner. */
  count: z.int().min(1).max(64),
  /** Least memory per GPU, MiB. */
  minVramMiB: z.int().min(0).max(10_000_000).default(0),
  /** GPU types a replica may use ({@link gpuTypeMatches}); empty allows every type. */
  allowedTypes: z.array(gpuTypeSchema).max(64).default([]),
  /** GPU types a replica must not use. */
  excludedTypes: z.array(gpuTypeSchema).max(64).default([]),
});
export type GpuRequirements = z.output<typeof gpuRequirementsSchema>;

export const visibilitySchema = z.enum(['public', 'private']);
export type Visibility = z.infer<typeof visibilitySchema>;

/**
 * The fields of a deployment spec, without cross-field rules (events carry this shape; the
 * requests check {@link deploymentSpecSchema}).
 */
export const deploymentSpecFieldsSchema = z.object({
  /** What clients put in `model`; unique among live deployments. */
  name: modelNameSchema,
  /** The billing account that owns it (and pays GPU-seconds when private). */
  ownerAccountId: accountIdSchema,
  model: deploymentModelSchema,
  engine: engineSpecSchema,
  gpu: gpuRequirementsSchema,
  /** Requests one replica serves at once. */
  concurrency: z.int().min(1).max(1024),
  /** Replicas kept however idle; 0 lets the deployment scale to zero. */
  minReplicas: z.int().min(0).max(1000).default(0),
  maxReplicas: z.int().min(1).max(1000),
  /** Idle time after which a deployment with `minReplicas` 0 goes to zero replicas. */
  scaleToZeroAfterSeconds: z
    .int()
    .min(0)
    .max(30 * 86_400)
    .default(300),
  /** `public`: anyone's key may call it, charged per token; `private`: the owner's only, charged per GPU-second. */
  visibility: visibilitySchema.default('private'),
});
export type DeploymentSpec = z.output<typeof deploymentSpecFieldsSchema>;
export type DeploymentSpecInput = z.input<typeof deploymentSpecFieldsSchema>;

/** The cross-field rules of a spec, each naming the field it is about. */
export function checkDeploymentSpec(
  spec: Pick<DeploymentSpec, 'minReplicas' | 'maxReplicas' | 'gpu'>,
  context: z.RefinementCtx,
  pathPrefix: readonly string[] = [],
): void {
  if (spec.minReplicas > spec.maxReplicas) {
    context.addIssue({
      code: 'custom',
      path: [...pathPrefix, 'minReplicas'],
      message: `must not exceed maxReplicas (${spec.maxReplicas})`,
    });
  }
  const both = spec.gpu.excludedTypes.filter((type) => spec.gpu.allowedTypes.includes(type));
  if (both.length > 0) {
    context.addIssue({
      code: 'custom',
      path: [...pathPrefix, 'gpu', 'excludedTypes'],
      message: `must not repeat allowed types (${both.join(', ')})`,
    });
  }
}

/** A whole deployment spec with its cross-field rules. */
export const deploymentSpecSchema = deploymentSpecFieldsSchema.superRefine((spec, context) =>
  checkDeploymentSpec(spec, context),
);

/** The aggregate holding every deployment (one stream, so names stay unique atomically). */
export const DEPLOYMENT_CATALOG_STREAM_ID = streamIdOf('scheduler', 'deployments', 'catalog');

/** The aggregate of one instance's lifecycle: `scheduler.instance.<instanceId>`. */
export function instanceStreamId(instanceId: string): string {
  return streamIdOf('scheduler', 'instance', instanceId);
}

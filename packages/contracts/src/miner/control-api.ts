import { z } from 'zod';
import { ss58AddressSchema } from '../chain/primitives.js';
import { ErrorCode, wireErrorSchema } from '../errors.js';

/**
 * The miner-agent's signed control API: what the scheduler (client, on the platform) and the
 * miner-agent (server, on a miner's host) say to each other over HTTP. Every request and reply
 * is signed with the fiber-compatible scheme of `@tessera/bittensor`; these schemas are the bodies.
 * Miners run whatever release they installed, so change these only compatibly.
 */

/** Error codes the control API answers with, besides the generic ones (validation, not found, auth). */
export const MinerErrorCode = {
  /** The launch asks for GPUs that are busy, missing, or more instances than the miner runs. */
  CapacityExceeded: 'miner.CAPACITY_EXCEEDED',
  /** An instance with this id exists with a different launch request. */
  InstanceConflict: 'miner.INSTANCE_CONFLICT',
  /** The miner does not offer the requested engine. */
  EngineUnavailable: 'miner.ENGINE_UNAVAILABLE',
} as const;

/**
 * An instance or deployment id. It is a URL path segment (`/instances/<id>`), so it is limited
 * to characters that need no escaping.
 */
export const minerInstanceIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "must be 1–128 letters, digits, '.', '_' or '-'");
export const deploymentIdSchema = minerInstanceIdSchema;

/** A lower-case hex sha256. */
export const sha256HexSchema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lower-case hex sha256');

/** Engines a miner can offer: the in-process llama.cpp engine, or a command engine template. */
export const engineNameSchema = z.enum(['llama', 'vllm', 'sglang', 'llama-server']);
export type EngineName = z.infer<typeof engineNameSchema>;

/** One GPU of a miner (from `nvidia-smi`, or declared in the miner's config on a CPU host). */
export const minerGpuSchema = z.object({
  index: z.int().nonnegative(),
  name: z.string().min(1),
  memoryTotalMiB: z.int().nonnegative(),
  memoryUsedMiB: z.int().nonnegative(),
  /** The instance holding this GPU; null when it is free. */
  instanceId: minerInstanceIdSchema.nullable(),
});
export type MinerGpu = z.infer<typeof minerGpuSchema>;

export const instanceStateSchema = z.enum(['starting', 'ready', 'failed', 'stopped']);
export type InstanceState = z.infer<typeof instanceStateSchema>;

/** `GET /capacity`. */
export const capacityResponseSchema = z.object({
  minerHotkey: ss58AddressSchema,
  /** Where the GPU list comes from: `nvidia-smi`, or the miner's config on a host without NVIDIA GPUs. */
  gpuSource: z.enum(['nvidia-smi', 'declared']),
  gpus: z.array(minerGpuSchema),
  freeGpus: z.int().nonnegative(),
  engines: z.array(engineNameSchema),
  /** Instances holding GPUs now (starting or ready). */
  instancesRunning: z.int().nonnegative(),
  maxInstances: z.int().positive(),
});
export type CapacityResponse = z.infer<typeof capacityResponseSchema>;

/**
 * The model an instance serves: a local path or `file:` URL, or an `http(s)` URL the miner
 * downloads to its cache. The miner reports the sha256 of what it loaded; with `sha256` set it
 * refuses a file that does not match.
 */
export const modelReferenceSchema = z.object({
  /** The name clients use in `model` (the data plane answers with it). */
  name: z.string().min(1).max(200),
  uri: z.string().min(1).max(2000),
  sha256: sha256HexSchema.optional(),
});
export type ModelReference = z.infer<typeof modelReferenceSchema>;

/** Engine and its arguments. The llama engine takes typed options; command engines take CLI arguments. */
export const engineSpecSchema = z.discriminatedUnion('name', [
  z.object({
    name: z.literal('llama'),
    /** Tokens of context per sequence; default the model's training context, capped by the miner. */
    contextSize: z.int().min(64).max(131_072).optional(),
  }),
  z.object({
    name: z.enum(['vllm', 'sglang', 'llama-server']),
    /** Appended to the template's command line (no shell is involved). */
    args: z.array(z.string().max(1000)).max(100).default([]),
  }),
]);
export type EngineSpec = z.infer<typeof engineSpecSchema>;

/** `POST /instances`: launch an instance. Relaunching the same id with the same body is a no-op. */
export const launchInstanceRequestSchema = z.object({
  instanceId: minerInstanceIdSchema,
  deploymentId: deploymentIdSchema,
  model: modelReferenceSchema,
  engine: engineSpecSchema,
  /** GPU indexes from `/capacity`; all must be free. */
  gpus: z
    .array(z.int().nonnegative())
    .min(1)
    .max(64)
    .refine((gpus) => new Set(gpus).size === gpus.length, 'must not repeat a GPU'),
  /** Requests the instance serves at once. */
  concurrency: z.int().min(1).max(1024),
  /**
   * Bearer token for this instance's data plane. Opaque to the miner; it never appears in a reply
   * or a log.
   */
  dataPlaneToken: z
    .string()
    .min(32)
    .max(512)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces'),
});
export type LaunchInstanceRequest = z.input<typeof launchInstanceRequestSchema>;
export type LaunchInstance = z.output<typeof launchInstanceRequestSchema>;

/** One instance as the miner sees it (the data-plane token is never included). */
export const instanceStatusSchema = z.object({
  instanceId: minerInstanceIdSchema,
  deploymentId: deploymentIdSchema,
  model: z.object({ name: z.string(), uri: z.string() }),
  engine: engineNameSchema,
  gpus: z.array(z.int().nonnegative()),
  concurrency: z.int().positive(),
  state: instanceStateSchema,
  /** Why it failed or stopped; null otherwise. */
  reason: z.string().nullable(),
  /** sha256 of the model file the engine serves; null until it is known. */
  modelSha256: sha256HexSchema.nullable(),
  createdAt: z.iso.datetime(),
  readyAt: z.iso.datetime().nullable(),
  endedAt: z.iso.datetime().nullable(),
});
export type InstanceStatus = z.infer<typeof instanceStatusSchema>;

export const instanceListResponseSchema = z.object({ instances: z.array(instanceStatusSchema) });
export type InstanceListResponse = z.infer<typeof instanceListResponseSchema>;

/** Error replies of the control API: `{ "error": { code, message, details? } }`. */
export const controlErrorResponseSchema = z.object({ error: wireErrorSchema });
export type ControlErrorResponse = z.infer<typeof controlErrorResponseSchema>;

/** One control API route: method, path (`:instanceId` for the id) and the bodies. */
export interface MinerControlRoute<Request extends z.ZodType | undefined, Response extends z.ZodType> {
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  readonly request: Request;
  readonly response: Response;
  /** Codes the route answers with on purpose, besides validation and authentication failures. */
  readonly errors: readonly string[];
}

function route<Request extends z.ZodType | undefined, Response extends z.ZodType>(
  declaration: MinerControlRoute<Request, Response>,
): MinerControlRoute<Request, Response> {
  return declaration;
}

/** Every route of the control API; the scheduler's client and the miner's controllers both use it. */
export const MinerControlApi = {
  capacity: route({
    method: 'GET',
    path: '/capacity',
    request: undefined,
    response: capacityResponseSchema,
    errors: [],
  }),
  launchInstance: route({
    method: 'POST',
    path: '/instances',
    request: launchInstanceRequestSchema,
    response: instanceStatusSchema,
    errors: [
      MinerErrorCode.CapacityExceeded,
      MinerErrorCode.InstanceConflict,
      MinerErrorCode.EngineUnavailable,
    ],
  }),
  listInstances: route({
    method: 'GET',
    path: '/instances',
    request: undefined,
    response: instanceListResponseSchema,
    errors: [],
  }),
  getInstance: route({
    method: 'GET',
    path: '/instances/:instanceId',
    request: undefined,
    response: instanceStatusSchema,
    errors: [ErrorCode.NotFound],
  }),
  stopInstance: route({
    method: 'DELETE',
    path: '/instances/:instanceId',
    request: undefined,
    response: instanceStatusSchema,
    errors: [ErrorCode.NotFound],
  }),
} as const;

/** The concrete path of a route: `minerControlPath(MinerControlApi.getInstance, 'i-1')` is `/instances/i-1`. */
export function minerControlPath(
  route: MinerControlRoute<z.ZodType | undefined, z.ZodType>,
  instanceId?: string,
): string {
  if (!route.path.includes(':instanceId')) return route.path;
  if (instanceId === undefined) throw new RangeError(`${route.path} needs an instance id`);
  return route.path.replace(':instanceId', encodeURIComponent(instanceId));
}

import { z } from 'zod';
import { apiKeyIdSchema, utcDaySchema, type ApiKeyScope } from '../billing/primitives.js';
import {
  GetAccount,
  GetPriceBook,
  GetUsage,
  IssueApiKey,
  ListApiKeys,
  ListLedgerEntries,
  RevokeApiKey,
} from '../billing/rpc.js';
import {
  checkDeploymentSpec,
  deploymentSpecFieldsSchema,
  schedulerDeploymentIdSchema,
} from '../scheduler/primitives.js';
import {
  DeleteDeployment,
  GetDeployment,
  ListDeployments,
  UpdateDeployment,
  deploymentViewSchema,
} from '../scheduler/rpc.js';
import {
  chatCompletionChunkSchema,
  chatCompletionRequestSchema,
  chatCompletionSchema,
  completionRequestSchema,
  completionSchema,
  embeddingRequestSchema,
  embeddingResponseSchema,
  modelListSchema,
  modelObjectSchema,
} from './openai-api.js';

/*
 * Tessera's public HTTP API besides OpenAI's: account, keys, usage, ledger and deployments. Each
 * route is forwarded over request/reply to the service that owns the data, always for the
 * account of the presented key — no request names an account, so no key reaches another's data.
 * Tessera's own routes use the contracts' field names (camelCase).
 */

/** How a route answers. */
export type PublicResponseKind = 'json' | 'sse' | 'csv';

/** One route of the public API: the source of the routing in the proxy and of `/openapi.json`. */
export interface PublicRoute {
  /** Unique, stable: the OpenAPI `operationId`. */
  readonly operationId: string;
  readonly method: 'get' | 'post' | 'patch' | 'delete';
  /** OpenAPI style, `{name}` for a path parameter. */
  readonly path: string;
  readonly summary: string;
  readonly tag: 'OpenAI' | 'Account' | 'Keys' | 'Usage' | 'Deployments';
  /** The scope a key needs; null when any valid key may call it. */
  readonly scope: ApiKeyScope | null;
  readonly pathParams?: z.ZodObject;
  readonly query?: z.ZodObject;
  readonly body?: z.ZodType;
  /** The success body (for `sse`: one event's `data`). */
  readonly response: z.ZodType;
  readonly responseKind: PublicResponseKind;
  /** Success status; 200 unless said otherwise. */
  readonly status?: number;
}

/** A query-string integer (query values arrive as text). */
const queryInt = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const deploymentIdPathSchema = z.object({ deploymentId: schedulerDeploymentIdSchema });

/** `POST /v1/keys`: a key for the caller's own account. */
export const createKeyBodySchema = IssueApiKey.request.omit({ accountId: true });

/** `GET /v1/usage`. */
export const usageQuerySchema = GetUsage.request.omit({ accountId: true });

/** `GET /v1/ledger`. */
export const ledgerQuerySchema = z.object({
  after: ListLedgerEntries.request.shape.after,
  limit: queryInt(1, 1_000).default(100),
});

/** `GET /v1/ledger/statement`: a CSV of the entries between two UTC days (inclusive). */
export const statementQuerySchema = z
  .object({ from: utcDaySchema, to: utcDaySchema })
  .refine((range) => range.from <= range.to, { message: 'from must not be after to', path: ['to'] });

/** `POST /v1/deployments`: a deployment owned by the caller's account. */
export const createDeploymentBodySchema = deploymentSpecFieldsSchema
  .omit({ ownerAccountId: true })
  .extend({ deploymentId: schedulerDeploymentIdSchema.optional() })
  .superRefine((spec, context) => checkDeploymentSpec(spec, context));

/** `PATCH /v1/deployments/{deploymentId}`. */
export const updateDeploymentBodySchema = z.object({
  changes: UpdateDeployment.request.shape.changes,
});

/** `GET /v1/deployments`. */
export const listDeploymentsQuerySchema = z.object({
  includeDeleted: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
});

/** One state change of a deployment's warm-up stream (`GET /v1/deployments/{id}/warmup`). */
export const warmupEventSchema = z.object({
  deploymentId: schedulerDeploymentIdSchema,
  /** `cold`: no ready instance; `warming`: demand reported, waiting; `ready`: requests are served now. */
  state: z.enum(['cold', 'warming', 'ready']),
  readyInstances: z.int().nonnegative(),
  at: z.iso.datetime(),
});
export type WarmupEvent = z.infer<typeof warmupEventSchema>;

export const keyIdPathSchema = z.object({ keyId: apiKeyIdSchema });
export const modelPathSchema = z.object({ model: z.string().min(1).max(200) });

/** Every route of the public API, OpenAI's included. */
export const publicRoutes: readonly PublicRoute[] = [
  {
    operationId: 'createChatCompletion',
    method: 'post',
    path: '/v1/chat/completions',
    summary: 'Chat completion (SSE when `stream` is true)',
    tag: 'OpenAI',
    scope: 'inference',
    body: chatCompletionRequestSchema,
    response: chatCompletionSchema.or(chatCompletionChunkSchema),
    responseKind: 'json',
  },
  {
    operationId: 'createCompletion',
    method: 'post',
    path: '/v1/completions',
    summary: 'Text completion (SSE when `stream` is true)',
    tag: 'OpenAI',
    scope: 'inference',
    body: completionRequestSchema,
    response: completionSchema,
    responseKind: 'json',
  },
  {
    operationId: 'createEmbedding',
    method: 'post',
    path: '/v1/embeddings',
    summary: 'Embeddings',
    tag: 'OpenAI',
    scope: 'inference',
    body: embeddingRequestSchema,
    response: embeddingResponseSchema,
    responseKind: 'json',
  },
  {
    operationId: 'listModels',
    method: 'get',
    path: '/v1/models',
    summary: 'Deployments the key may call',
    tag: 'OpenAI',
    scope: 'inference',
    response: modelListSchema,
    responseKind: 'json',
  },
  {
    operationId: 'retrieveModel',
    method: 'get',
    path: '/v1/models/{model}',
    summary: 'One deployment the key may call',
    tag: 'OpenAI',
    scope: 'inference',
    pathParams: modelPathSchema,
    response: modelObjectSchema,
    responseKind: 'json',
  },
  {
    operationId: 'getAccount',
    method: 'get',
    path: '/v1/account',
    summary: 'Balance, held credit, what is owed, and the TAO deposit address',
    tag: 'Account',
    scope: 'account:read',
    response: GetAccount.response,
    responseKind: 'json',
  },
  {
    operationId: 'getPrices',
    method: 'get',
    path: '/v1/prices',
    summary: 'The TAO price deposits are credited at, and the token prices of every model',
    tag: 'Account',
    scope: null,
    response: GetPriceBook.response,
    responseKind: 'json',
  },
  {
    operationId: 'listKeys',
    method: 'get',
    path: '/v1/keys',
    summary: "The account's API keys (never their secrets)",
    tag: 'Keys',
    scope: 'account:read',
    response: ListApiKeys.response,
    responseKind: 'json',
  },
  {
    operationId: 'createKey',
    method: 'post',
    path: '/v1/keys',
    summary: 'Issue a key; the answer is the only place the full key appears',
    tag: 'Keys',
    scope: 'account:admin',
    body: createKeyBodySchema,
    response: IssueApiKey.response,
    responseKind: 'json',
    status: 201,
  },
  {
    operationId: 'revokeKey',
    method: 'delete',
    path: '/v1/keys/{keyId}',
    summary: 'Revoke a key: every proxy refuses it within a second',
    tag: 'Keys',
    scope: 'account:admin',
    pathParams: keyIdPathSchema,
    response: RevokeApiKey.response,
    responseKind: 'json',
  },
  {
    operationId: 'getUsage',
    method: 'get',
    path: '/v1/usage',
    summary: 'Usage per day and/or model between two UTC days',
    tag: 'Usage',
    scope: 'account:read',
    query: usageQuerySchema,
    response: GetUsage.response,
    responseKind: 'json',
  },
  {
    operationId: 'listLedgerEntries',
    method: 'get',
    path: '/v1/ledger',
    summary: 'Ledger entries of the account, oldest first, paged by cursor',
    tag: 'Usage',
    scope: 'account:read',
    query: ledgerQuerySchema,
    response: ListLedgerEntries.response,
    responseKind: 'json',
  },
  {
    operationId: 'exportStatement',
    method: 'get',
    path: '/v1/ledger/statement',
    summary: 'A CSV statement of ledger entries between two UTC days',
    tag: 'Usage',
    scope: 'account:read',
    query: statementQuerySchema,
    response: z.string().describe('text/csv'),
    responseKind: 'csv',
  },
  {
    operationId: 'createDeployment',
    method: 'post',
    path: '/v1/deployments',
    summary: 'Deploy a model; miners host its replicas',
    tag: 'Deployments',
    scope: 'deployments',
    body: createDeploymentBodySchema,
    response: deploymentViewSchema,
    responseKind: 'json',
    status: 201,
  },
  {
    operationId: 'listDeployments',
    method: 'get',
    path: '/v1/deployments',
    summary: "The account's deployments",
    tag: 'Deployments',
    scope: 'deployments',
    query: listDeploymentsQuerySchema,
    response: ListDeployments.response,
    responseKind: 'json',
  },
  {
    operationId: 'getDeployment',
    method: 'get',
    path: '/v1/deployments/{deploymentId}',
    summary: 'One deployment with its live instances',
    tag: 'Deployments',
    scope: 'deployments',
    pathParams: deploymentIdPathSchema,
    response: GetDeployment.response,
    responseKind: 'json',
  },
  {
    operationId: 'updateDeployment',
    method: 'patch',
    path: '/v1/deployments/{deploymentId}',
    summary: 'Change a deployment (a new model, engine or GPU spec rolls its replicas)',
    tag: 'Deployments',
    scope: 'deployments',
    pathParams: deploymentIdPathSchema,
    body: updateDeploymentBodySchema,
    response: UpdateDeployment.response,
    responseKind: 'json',
  },
  {
    operationId: 'deleteDeployment',
    method: 'delete',
    path: '/v1/deployments/{deploymentId}',
    summary: 'Delete a deployment: its replicas drain and stop',
    tag: 'Deployments',
    scope: 'deployments',
    pathParams: deploymentIdPathSchema,
    response: DeleteDeployment.response,
    responseKind: 'json',
  },
  {
    operationId: 'watchDeploymentWarmup',
    method: 'get',
    path: '/v1/deployments/{deploymentId}/warmup',
    summary: 'Server-sent events: the deployment going from cold to ready',
    tag: 'Deployments',
    scope: 'inference',
    pathParams: deploymentIdPathSchema,
    response: warmupEventSchema,
    responseKind: 'sse',
  },
];

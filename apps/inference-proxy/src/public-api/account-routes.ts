import {
  CreateDeployment,
  DeleteDeployment,
  ExportStatement,
  GetAccount,
  GetDeployment,
  GetPriceBook,
  GetUsage,
  IssueApiKey,
  ListApiKeys,
  ListDeployments,
  ListLedgerEntries,
  RevokeApiKey,
  UpdateDeployment,
  parseOrThrow,
  publicRoutes,
  type PublicRoute,
  type RpcRequestOf,
} from '@tessera/contracts';
import { type RpcClient } from '@tessera/platform/messaging';
import { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { type BillingView, type Caller } from '../keys/billing-view.js';
import { toOpenAiError } from '../openai/openai-errors.js';

/** What a forwarded route receives, parsed with the route's own schemas. */
interface ForwardInput {
  caller: Caller;
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  body: Record<string, unknown>;
}

type Forward = (rpc: RpcClient, input: ForwardInput) => Promise<unknown>;

const text = (value: unknown): string => String(value);

/**
 * Each of Tessera's own routes as a typed request/reply to the service that owns the data, always
 * for the account of the presented key: no route takes an account id, so no key reaches another
 * account's data (billing and the scheduler answer NOT_FOUND for another account's key or deployment).
 */
const forwards: Record<string, Forward> = {
  getAccount: (rpc, { caller }) => rpc.call(GetAccount, { accountId: caller.accountId }),
  getPrices: (rpc) => rpc.call(GetPriceBook, {}),
  listKeys: (rpc, { caller }) => rpc.call(ListApiKeys, { accountId: caller.accountId }),
  createKey: (rpc, { caller, body }) =>
    rpc.call(IssueApiKey, { ...body, accountId: caller.accountId } as RpcRequestOf<typeof IssueApiKey>),
  revokeKey: (rpc, { caller, params }) =>
    rpc.call(RevokeApiKey, { accountId: caller.accountId, keyId: text(params['keyId']) }),
  getUsage: (rpc, { caller, query }) =>
    rpc.call(GetUsage, { ...query, accountId: caller.accountId } as RpcRequestOf<typeof GetUsage>),
  listLedgerEntries: (rpc, { caller, query }) =>
    rpc.call(ListLedgerEntries, {
      accountId: caller.accountId,
      limit: query['limit'] as number,
      ...(query['after'] === undefined ? {} : { after: text(query['after']) }),
    }),
  exportStatement: async (rpc, { caller, query }) =>
    (
      await rpc.call(ExportStatement, {
        accountId: caller.accountId,
        from: text(query['from']),
        to: text(query['to']),
      })
    ).csv,
  createDeployment: (rpc, { caller, body }) =>
    rpc.call(CreateDeployment, { ...body, ownerAccountId: caller.accountId } as RpcRequestOf<
      typeof CreateDeployment
    >),
  listDeployments: (rpc, { caller, query }) =>
    rpc.call(ListDeployments, {
      ownerAccountId: caller.accountId,
      includeDeleted: query['includeDeleted'] === true,
    }),
  getDeployment: (rpc, { caller, params }) =>
    rpc.call(GetDeployment, { deploymentId: text(params['deploymentId']), ownerAccountId: caller.accountId }),
  updateDeployment: (rpc, { caller, params, body }) =>
    rpc.call(UpdateDeployment, {
      deploymentId: text(params['deploymentId']),
      ownerAccountId: caller.accountId,
      changes: body['changes'] as RpcRequestOf<typeof UpdateDeployment>['changes'],
    }),
  deleteDeployment: (rpc, { caller, params }) =>
    rpc.call(DeleteDeployment, {
      deploymentId: text(params['deploymentId']),
      ownerAccountId: caller.accountId,
    }),
};

/** The forwarded routes of the route table (the OpenAI ones and the warm-up stream have their own handlers). */
export const forwardedRoutes: readonly PublicRoute[] = publicRoutes.filter(
  (route) => route.operationId in forwards,
);

function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const mapped = toOpenAiError(err);
  return reply.code(mapped.status).headers(mapped.headers).type('application/json').send(mapped.body);
}

/** Registers the account, keys, usage, ledger and deployment routes (inside the `/v1` plugin). */
export function registerAccountRoutes(api: FastifyInstance, billing: BillingView, rpc: RpcClient): void {
  for (const route of forwardedRoutes) {
    const forward = forwards[route.operationId]!;
    // `/v1/keys/{keyId}` → `/keys/:keyId` inside the `/v1` prefix.
    const path = route.path.replace(/^\/v1/, '').replace(/\{([^}]+)\}/g, ':$1');
    api.route({
      method: route.method.toUpperCase() as 'GET' | 'POST' | 'PATCH' | 'DELETE',
      url: path,
      handler: async (request: FastifyRequest, reply: FastifyReply) => {
        try {
          const caller = billing.authenticate(request.headers.authorization, route.scope ?? undefined);
          const input: ForwardInput = {
            caller,
            params: route.pathParams ? parseOrThrow(route.pathParams, request.params, 'path') : {},
            query: route.query ? parseOrThrow(route.query, request.query ?? {}, 'query') : {},
            body: route.body
              ? (parseOrThrow(route.body, request.body ?? {}, 'request body') as Record<string, unknown>)
              : {},
          };
          const result = await forward(rpc, input);
          if (route.responseKind === 'csv')
            return reply.code(200).type('text/csv; charset=utf-8').send(result);
          return reply.code(route.status ?? 200).send(result);
        } catch (err) {
          return sendError(reply, err);
        }
      },
    });
  }
}

import { type z } from 'zod';
import { rpcSubjectSchema } from './streams.js';
import { parseOrThrow } from './validation.js';

/**
 * One declaration per request/reply method: its subject, the request and response schemas
 * and the error codes a caller must be ready for. Client and server both derive from it.
 */
export interface RpcContract<
  Subject extends string = string,
  RequestSchema extends z.ZodType = z.ZodType,
  ResponseSchema extends z.ZodType = z.ZodType,
  ErrorCodes extends string = string,
> {
  readonly kind: 'rpc';
  readonly subject: Subject;
  readonly request: RequestSchema;
  readonly response: ResponseSchema;
  /** Codes the handler raises on purpose, besides the generic ones (validation, timeout, internal). */
  readonly errors: readonly ErrorCodes[];
}

/** The request type of an RPC contract (what the caller passes in). */
export type RpcRequestOf<C> = C extends RpcContract<string, infer Req> ? z.input<Req> : never;
/** The request type after parsing (what the handler receives). */
export type RpcParsedRequestOf<C> = C extends RpcContract<string, infer Req> ? z.output<Req> : never;
/** The response type of an RPC contract. */
export type RpcResponseOf<C> = C extends RpcContract<string, z.ZodType, infer Res> ? z.output<Res> : never;
/**
 * Declares a request/reply method.
 *
 * ```ts
 * export const GetBalance = defineRpc({
 *   subject: 'rpc.billing.getBalance',
 *   request: z.object({ accountId: z.string() }),
 *   response: z.object({ balance: nanoUsdSchema }),
 *   errors: ['NOT_FOUND'],
 * });
 * ```
 */
export function defineRpc<
  const Subject extends string,
  RequestSchema extends z.ZodType,
  ResponseSchema extends z.ZodType,
  const ErrorCodes extends string = never,
>(declaration: {
  subject: Subject;
  request: RequestSchema;
  response: ResponseSchema;
  errors?: readonly ErrorCodes[];
}): RpcContract<Subject, RequestSchema, ResponseSchema, ErrorCodes> {
  parseOrThrow(rpcSubjectSchema, declaration.subject, `rpc subject ${declaration.subject}`);
  return {
    kind: 'rpc',
    subject: declaration.subject,
    request: declaration.request,
    response: declaration.response,
    errors: declaration.errors ?? [],
  };
}

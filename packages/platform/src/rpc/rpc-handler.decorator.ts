import { applyDecorators, Catch, SetMetadata, UseFilters, type RpcExceptionFilter } from '@nestjs/common';
import { Ctx, MessagePattern, Payload } from '@nestjs/microservices';
import { type RpcContract, type RpcParsedRequestOf, type RpcResponseOf } from '@tessera/contracts';
import { throwError, type Observable } from 'rxjs';
import { type RpcCallContext } from './rpc-call-context.js';

/** Serves one contract: gets the parsed request, returns the response or throws a `TesseraError`. */
export type RpcHandlerFn<C extends RpcContract> = (
  request: RpcParsedRequestOf<C>,
  call: RpcCallContext,
) => Promise<RpcResponseOf<C>> | RpcResponseOf<C>;

/** The Nest transport id of the RPC server: `@RpcHandler` methods are served by it only. */
export const RPC_TRANSPORT = Symbol.for('tessera.platform.rpcTransport');

/** Metadata key of the contract on an `@RpcHandler` method. */
export const RPC_CONTRACT_METADATA = 'tessera:rpc-contract';

/** The pattern extras the RPC server reads the contract from. */
export interface RpcHandlerExtras {
  readonly contract: RpcContract;
}

/**
 * Hands a handler's error to the RPC server untouched. Nest's default RPC filter would turn
 * every error that is not an `RpcException` into `{ status: 'error' }`, losing the
 * `TesseraError`'s code; the server maps errors to the reply itself.
 */
@Catch()
export class RpcErrorPassthrough implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}

/**
 * Marks a controller method as the handler of `contract`: a Nest `@MessagePattern` on the
 * contract's subject, served by the platform's RPC server (see `RpcModule`), which validates the
 * request before the method runs and the response after. The method's signature is checked
 * against the contract. The class must be one of a module's `controllers`, as for any Nest
 * message handler; guards, interceptors and pipes apply as usual.
 *
 * ```ts
 * @Controller()
 * class BalancesRpc {
 *   @RpcHandler(GetBalance)
 *   async getBalance(request: RpcParsedRequestOf<typeof GetBalance>): Promise<RpcResponseOf<typeof GetBalance>> { … }
 * }
 * ```
 */
export function RpcHandler<C extends RpcContract>(contract: C) {
  const extras: RpcHandlerExtras = { contract };
  const decorate = applyDecorators(
    SetMetadata(RPC_CONTRACT_METADATA, contract),
    MessagePattern(contract.subject, RPC_TRANSPORT, extras),
    UseFilters(RpcErrorPassthrough),
  );
  // Generic over the method's own type: TypedPropertyDescriptor is invariant, so the constraint
  // (not the descriptor type) is what checks the signature against the contract.
  return <M extends RpcHandlerFn<C>>(
    target: object,
    methodName: string | symbol,
    descriptor: TypedPropertyDescriptor<M>,
  ): void => {
    decorate(target, methodName, descriptor);
    // Nest hands message handlers the payload only unless told otherwise: declare both arguments
    // of RpcHandlerFn, as `@Payload()` and `@Ctx()` would.
    Payload()(target, methodName, 0);
    Ctx()(target, methodName, 1);
  };
}

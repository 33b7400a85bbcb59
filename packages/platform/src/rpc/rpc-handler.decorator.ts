import { type RpcContract } from '@tessera/contracts';
import { type RpcHandlerFn } from './rpc-server.js';

/** One `@RpcHandler` use: which contract a method serves. */
export interface RpcHandlerBinding {
  readonly contract: RpcContract;
  readonly methodName: string | symbol;
}

// A WeakMap on the prototype instead of reflect-metadata: no global registry, and nothing to
// import for side effects.
const bindingsByPrototype = new WeakMap<object, RpcHandlerBinding[]>();

/**
 * Marks a provider method as the handler of `contract`; `RpcModule` subscribes it when the app
 * starts. The method's signature is checked against the contract.
 *
 * ```ts
 * @Injectable()
 * class BalancesRpc {
 *   @RpcHandler(GetBalance)
 *   async getBalance(request: RpcParsedRequestOf<typeof GetBalance>): Promise<RpcResponseOf<typeof GetBalance>> { … }
 * }
 * ```
 */
export function RpcHandler<C extends RpcContract>(contract: C) {
  // Generic over the method's own type: TypedPropertyDescriptor is invariant, so the constraint
  // (not the descriptor type) is what checks the signature against the contract.
  return <M extends RpcHandlerFn<C>>(
    target: object,
    methodName: string | symbol,
    _descriptor: TypedPropertyDescriptor<M>,
  ): void => {
    const bindings = bindingsByPrototype.get(target) ?? [];
    bindings.push({ contract, methodName });
    bindingsByPrototype.set(target, bindings);
  };
}

/** The `@RpcHandler` bindings of an instance's class and its base classes. */
export function rpcHandlerBindings(instance: object): RpcHandlerBinding[] {
  const found: RpcHandlerBinding[] = [];
  for (
    let proto: object | null = Object.getPrototypeOf(instance) as object | null;
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    found.push(...(bindingsByPrototype.get(proto) ?? []));
  }
  return found;
}

import { BaseRpcContext } from '@nestjs/microservices';

/**
 * What a handler knows about the call besides the request: the second argument of an
 * `@RpcHandler` method (or `@Ctx()`), like Nest's own `NatsContext`.
 */
export class RpcCallContext extends BaseRpcContext<[subject: string, correlationId: string]> {
  /** The contract's subject (without prefix). */
  get subject(): string {
    return this.args[0];
  }

  get correlationId(): string {
    return this.args[1];
  }
}

import { Injectable } from '@nestjs/common';

/**
 * A Nest microservice transport strategy, as `connectMicroservice({ strategy })` takes it.
 * Structural, so the core platform needs no `@nestjs/microservices` types: the RPC server of
 * `@tessera/platform/messaging` is one.
 */
export interface TransportStrategy {
  listen(callback: (...optionalParams: unknown[]) => unknown): unknown;
  close(): unknown;
}

/**
 * The transports an app serves besides HTTP. Modules register their strategy while Nest builds
 * the app; {@link createApp} connects each as a Nest microservice (a hybrid app) and starts it.
 */
@Injectable()
export class TransportRegistry {
  private readonly strategies: TransportStrategy[] = [];

  register(strategy: TransportStrategy): void {
    this.strategies.push(strategy);
  }

  all(): readonly TransportStrategy[] {
    return this.strategies;
  }
}

import { ErrorCode, isTesseraError, type EventMetadata } from '@tessera/contracts';
import {
  type AggregateCache,
  classifyFailure,
  isConcurrencyConflict,
  type CachedCommandResult,
  type EventStore,
} from '@tessera/eventstore';
import { type Logger } from 'pino';

/**
 * An event store whose appends report optimistic-concurrency conflicts (another replica wrote the
 * aggregate first) to `onConflict`: the cache retries them silently, and the count is how tests
 * and operators see that replicas really raced.
 */
export function observingConflicts(store: EventStore, onConflict: (streamId: string) => void): EventStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'append') {
        return async (...args: Parameters<EventStore['append']>) => {
          try {
            return await target.append(...args);
          } catch (err) {
            if (isConcurrencyConflict(err)) onConflict(args[0]);
            throw err;
          }
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * Runs a command on a cached aggregate, so that a refusal is never based on a stale cache: when
 * `decide` refuses (a domain error) and another replica has moved the aggregate since this one
 * cached it, the cache reloads and the command is decided again. The check costs one direct get,
 * and only on the refusal path.
 */
export async function executeFresh<Command, State>(
  cache: AggregateCache<Command, State>,
  store: EventStore,
  streamId: string,
  command: Command,
  metadata: EventMetadata,
  logger: Logger,
): Promise<CachedCommandResult<State>> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await cache.execute(streamId, command, metadata);
    } catch (err) {
      if (!isDomainRefusal(err) || attempt >= 3) throw err;
      const cached = cache.cachedPosition(streamId);
      const head = await store.currentPosition(streamId);
      if (cached !== undefined && head.sequence === cached.sequence) throw err;
      logger.debug(
        { streamId, code: (err as { code?: string }).code },
        'refused on a stale cache; deciding again',
      );
      cache.invalidate(streamId);
    }
  }
}

function isDomainRefusal(err: unknown): boolean {
  return isTesseraError(err) && err.code !== ErrorCode.ValidationFailed && classifyFailure(err) === 'poison';
}

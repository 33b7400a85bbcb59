import { type Event, type EventRegistry } from '@tessera/contracts';

/**
 * Lifts stored data of an old version to the next one. Upcasters chain: v1→v2→v3.
 * Declare one whenever an event's data schema changes incompatibly and its version is bumped.
 */
export interface Upcaster {
  type: string;
  fromVersion: number;
  upcast(data: unknown): unknown;
}

/** Decodes stored envelopes: upcasts old versions, then validates against the registry. */
export class EventDecoder {
  private readonly upcasters = new Map<string, Upcaster>();

  constructor(
    readonly registry: EventRegistry,
    upcasters: readonly Upcaster[] = [],
  ) {
    for (const upcaster of upcasters) {
      const key = `${upcaster.type}@${upcaster.fromVersion}`;
      if (this.upcasters.has(key)) throw new Error(`two upcasters for ${key}`);
      this.upcasters.set(key, upcaster);
    }
  }

  /** Parses JSON bytes into a validated, current-version event; throws typed errors. */
  decode(payload: unknown): Event {
    return this.registry.decode(this.upcast(payload));
  }

  private upcast(payload: unknown): unknown {
    if (typeof payload !== 'object' || payload === null) return payload;
    let current = payload as { type?: unknown; version?: unknown; data?: unknown };
    for (;;) {
      if (typeof current.type !== 'string' || typeof current.version !== 'number') return current;
      const upcaster = this.upcasters.get(`${current.type}@${current.version}`);
      if (!upcaster) return current;
      current = { ...current, version: current.version + 1, data: upcaster.upcast(current.data) };
    }
  }
}

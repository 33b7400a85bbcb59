import { ErrorCode, TesseraError } from './errors.js';
import { eventEnvelopeSchema, type Event, type EventEnvelope } from './envelope.js';
import { creatorOf, type EventContract, type PendingEvent } from './define-event.js';
import { parseOrThrow } from './validation.js';

/**
 * The set of event contracts a process knows. The event store validates every append against
 * it and decodes every read through it.
 */
export class EventRegistry {
  private readonly byKey = new Map<string, EventContract>();

  constructor(contracts: Iterable<EventContract> = []) {
    for (const contract of contracts) this.register(contract);
  }

  /** Adds a contract; registering the same (type, version) twice with another object is a bug. */
  register(contract: EventContract): this {
    const key = keyOf(contract.type, contract.version);
    const existing = this.byKey.get(key);
    if (existing && existing !== contract) throw new Error(`event contract ${key} registered twice`);
    this.byKey.set(key, contract);
    return this;
  }

  /** The contract for (type, version), or undefined. */
  find(type: string, version: number): EventContract | undefined {
    return this.byKey.get(keyOf(type, version));
  }

  /** Every registered contract, sorted by type then version (stable for snapshots). */
  all(): EventContract[] {
    return [...this.byKey.values()].sort((a, b) =>
      a.type === b.type ? a.version - b.version : a.type < b.type ? -1 : 1,
    );
  }

  /**
   * Validates a pending event's data before it is appended; an event that this registry's own
   * contract made (`create` parsed its data) is not parsed twice.
   */
  validatePending(event: PendingEvent): void {
    const contract = this.require(event.type, event.version);
    if (creatorOf(event) === contract) return;
    parseOrThrow(contract.data, event.data, `data of ${keyOf(event.type, event.version)}`);
  }

  /** Validates a whole envelope, data included; throws `ValidationError` or `UNKNOWN_EVENT_TYPE`. */
  decode(value: unknown): Event {
    const envelope: EventEnvelope = parseOrThrow(eventEnvelopeSchema, value, 'event envelope');
    const contract = this.require(envelope.type, envelope.version);
    return { ...envelope, data: parseOrThrow(contract.data, envelope.data, `data of ${contract.type}`) };
  }

  private require(type: string, version: number): EventContract {
    const contract = this.find(type, version);
    if (!contract) {
      throw new TesseraError(ErrorCode.UnknownEventType, `no contract for event ${keyOf(type, version)}`, {
        details: { type, version },
      });
    }
    return contract;
  }
}

function keyOf(type: string, version: number): string {
  return `${type}@${version}`;
}

import { type StreamDeclaration } from '@tessera/contracts';

/**
 * Maps the contract's logical names onto the NATS server. Production uses the empty
 * namespace (names as declared); tests give every file its own namespace so files share one
 * server without seeing each other's streams, subjects or consumers.
 */
export class Namespace {
  constructor(readonly prefix: string = '') {
    if (prefix !== '' && !/^[A-Za-z0-9]+$/.test(prefix)) {
      throw new RangeError(`namespace "${prefix}" may only hold letters and digits`);
    }
  }

  /** The stream name on the server. */
  streamName(stream: StreamDeclaration | string): string {
    const name = typeof stream === 'string' ? stream : stream.name;
    return this.prefix === '' ? name : `${this.prefix}_${name}`;
  }

  /** The subject on the server for a logical subject or stream id. */
  subject(logical: string): string {
    return this.prefix === '' ? logical : `${this.prefix}.${logical}`;
  }

  /** The logical subject for a subject received from the server. */
  logicalSubject(wire: string): string {
    return this.prefix === '' ? wire : wire.slice(this.prefix.length + 1);
  }

  /** A durable consumer name on the server. */
  consumerName(name: string): string {
    return this.prefix === '' ? name : `${this.prefix}_${name}`;
  }
}

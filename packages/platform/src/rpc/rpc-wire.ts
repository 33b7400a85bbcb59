import { z } from 'zod';
import { wireErrorSchema } from '@tessera/contracts';

/** NATS header carrying the correlation id on requests (same name as the HTTP header). */
export { CORRELATION_ID_HEADER as RPC_CORRELATION_HEADER } from '../logging/correlation.js';

/**
 * The reply envelope. The outcome travels in the body rather than in NATS status headers so a
 * typed error (code, message, details) survives any hop, and the client can tell "the handler said
 * no" from "nobody answered".
 */
export const rpcReplySchema = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: wireErrorSchema }),
]);
/** A reply as it travels. */
export type RpcReply = z.infer<typeof rpcReplySchema>;

/** The subject a contract is served on: the contract's subject under the configured prefix. */
export function prefixedSubject(prefix: string, subject: string): string {
  return prefix === '' ? subject : `${prefix}.${subject}`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** JSON to bytes. */
export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Bytes to JSON, as `unknown`: callers parse it with a schema. */
export function decodeJson(data: Uint8Array): unknown {
  return JSON.parse(decoder.decode(data)) as unknown;
}

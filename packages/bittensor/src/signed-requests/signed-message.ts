import { createHash, randomBytes as nodeRandomBytes } from 'node:crypto';
import type { Clock } from '@tessera/contracts';
import { signedRequestErrors } from './signed-request-errors.js';

/**
 * The header names of Rayon Labs' fiber (`fiber/constants.py`), lowercase as fiber sends them.
 * In a request the validator signs: `validator-hotkey` is the signer, `miner-hotkey` the
 * addressee. In a reply the roles swap: the miner signs, addressed to the validator.
 */
export const SIGNED_HEADERS = {
  validatorHotkey: 'validator-hotkey',
  minerHotkey: 'miner-hotkey',
  nonce: 'nonce',
  signature: 'signature',
} as const;

/** The four signed headers, ready to spread into a `fetch`/undici header object. */
export type SignedHeaders = {
  'validator-hotkey': string;
  'miner-hotkey': string;
  nonce: string;
  signature: string;
};

/** A message body as bytes, or as text (hashed as its UTF-8 bytes). */
export type SignedBody = Uint8Array | string;

/** Where random bytes come from; tests pass a fixed source. */
export type RandomBytes = (size: number) => Uint8Array;

export const defaultRandomBytes: RandomBytes = (size) => nodeRandomBytes(size);

/** Fiber's receivers accept a nonce whose time is at most two minutes from theirs, either way. */
export const DEFAULT_NONCE_WINDOW_MS = 120_000;

const NONCE_SUFFIX_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const NONCE_SUFFIX_LENGTH = 10;
// 62 × 4 = 248: bytes at or above it are dropped so every character is equally likely.
const UNBIASED_BYTE_LIMIT = 256 - (256 % NONCE_SUFFIX_ALPHABET.length);
// `<unix time ns>_<10 alphanumerics>`; fiber refuses times ≥ 10^20, so 20 digits at most.
const NONCE_PATTERN = /^(\d{1,20})_([A-Za-z0-9]{10})$/;

/** Lowercase hex sha256 of the body's bytes, as fiber's `signatures.get_hash`. */
export function bodySha256Hex(body: SignedBody): string {
  return createHash('sha256').update(body).digest('hex');
}

/** What gets signed: `<nonce>:<addressee hotkey>:<sha256 hex of the body>` (fiber's `construct_header_signing_message`). */
export function signingMessage(nonce: string, addresseeHotkey: string, body: SignedBody): string {
  return `${nonce}:${addresseeHotkey}:${bodySha256Hex(body)}`;
}

/** Nanoseconds since the Unix epoch by the given clock (which has millisecond resolution). */
export function clockNanos(clock: Clock): bigint {
  return BigInt(clock.now().getTime()) * 1_000_000n;
}

/** A fresh nonce, `<unix time ns>_<10 random alphanumerics>`, as fiber's `generate_nonce`. */
export function createNonce(clock: Clock, randomBytes: RandomBytes = defaultRandomBytes): string {
  let suffix = '';
  while (suffix.length < NONCE_SUFFIX_LENGTH) {
    for (const byte of randomBytes(NONCE_SUFFIX_LENGTH * 2)) {
      if (byte >= UNBIASED_BYTE_LIMIT) continue;
      suffix += NONCE_SUFFIX_ALPHABET[byte % NONCE_SUFFIX_ALPHABET.length];
      if (suffix.length === NONCE_SUFFIX_LENGTH) break;
    }
  }
  return `${clockNanos(clock)}_${suffix}`;
}

/** The time a nonce claims, in ns; a malformed nonce is a typed `nonce` header error. */
export function parseNonceTime(nonce: string): bigint {
  const match = NONCE_PATTERN.exec(nonce);
  if (!match?.[1]) {
    throw signedRequestErrors.headerInvalid('nonce', 'expected <unix time ns>_<10 alphanumerics>');
  }
  return BigInt(match[1]);
}

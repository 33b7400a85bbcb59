import type { KeyringPair } from '@polkadot/keyring/types';
import { isHex, stringToU8a, u8aToHex } from '@polkadot/util';
import { cryptoWaitReady, decodeAddress, sr25519Verify } from '@polkadot/util-crypto';
import { type Clock, ValidationError, systemClock } from '@tessera/contracts';
import type { NonceReplayCache } from './nonce-replay-cache.js';
import {
  DEFAULT_NONCE_WINDOW_MS,
  type RandomBytes,
  SIGNED_HEADERS,
  type SignedBody,
  type SignedHeaders,
  clockNanos,
  createNonce,
  parseNonceTime,
  signingMessage,
} from './signed-message.js';
import { type SignedHeaderName, signedRequestErrors } from './signed-request-errors.js';

/**
 * Headers as servers and clients hand them over: Node's `IncomingHttpHeaders` (lowercase keys,
 * arrays for repeated headers), a plain record, or a WHATWG `Headers` (fetch, undici).
 */
export type HeaderSource = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/**
 * Which hotkeys may sign, given the signer's SS58 address (already checked to decode): build it
 * from a list with {@link allowHotkeys}, or pass any predicate (e.g. "holds a validator permit").
 */
export type AllowedHotkeys = (hotkey: string) => boolean;

/** A request the receiver accepted: who sent it and the nonce its reply must echo. */
export interface VerifiedRequest {
  validatorHotkey: string;
  minerHotkey: string;
  nonce: string;
}

/** A reply the caller accepted: the miner that signed it. */
export interface VerifiedReply {
  minerHotkey: string;
  nonce: string;
}

export interface SignRequestOptions {
  /** The validator's hotkey pair (sr25519). */
  signer: KeyringPair;
  /** The SS58 address of the miner the request is for. */
  minerHotkey: string;
  /** The exact bytes that will be sent; the receiver hashes what it receives. */
  body: SignedBody;
  clock?: Clock;
  randomBytes?: RandomBytes;
}

export interface VerifyRequestOptions {
  headers: HeaderSource;
  /** The raw body bytes as received, before any parsing. */
  body: SignedBody;
  /** The receiver's own hotkey: requests addressed to anyone else are refused. */
  ownHotkey: string;
  allowedHotkeys: AllowedHotkeys;
  /** Shared by every request this receiver verifies. */
  replayCache: NonceReplayCache;
  clock?: Clock;
  /** How far (either way) a nonce's time may be from the receiver's clock; fiber's 120 s by default. */
  windowMs?: number;
}

export interface SignReplyOptions {
  /** The miner's hotkey pair (sr25519): the one the request was addressed to. */
  signer: KeyringPair;
  /** The request being answered, as {@link verifyRequest} returned it. */
  request: VerifiedRequest;
  body: SignedBody;
}

export interface VerifyReplyOptions {
  headers: HeaderSource;
  body: SignedBody;
  /** The headers the caller sent, as {@link signRequest} made them. */
  request: SignedHeaders;
}

/**
 * Signs a validator→miner request the way fiber's `get_headers_with_nonce` does: sr25519 over
 * the UTF-8 bytes of `<nonce>:<miner hotkey>:<sha256 hex of body>`, as `0x` hex.
 */
export function signRequest(options: SignRequestOptions): SignedHeaders {
  const nonce = createNonce(options.clock ?? systemClock, options.randomBytes);
  return {
    [SIGNED_HEADERS.validatorHotkey]: options.signer.address,
    [SIGNED_HEADERS.minerHotkey]: options.minerHotkey,
    [SIGNED_HEADERS.nonce]: nonce,
    [SIGNED_HEADERS.signature]: sign(
      options.signer,
      signingMessage(nonce, options.minerHotkey, options.body),
    ),
  };
}

/**
 * Checks a request on the miner's side and returns who sent it, or throws a
 * {@link SignedRequestError} naming what failed. The cheap checks (headers, addressee,
 * allowed signer, nonce window) run before the signature, so strangers cost no crypto; the
 * nonce is recorded only once the signature holds, so nobody can burn another's nonces.
 */
export async function verifyRequest(options: VerifyRequestOptions): Promise<VerifiedRequest> {
  const headers = readSignedHeaders(options.headers);
  const validatorKey = decodeHotkey(SIGNED_HEADERS.validatorHotkey, headers['validator-hotkey']);
  const minerKey = decodeHotkey(SIGNED_HEADERS.minerHotkey, headers['miner-hotkey']);
  const nonceTimeNs = parseNonceTime(headers.nonce);
  const signature = decodeSignature(headers.signature);

  if (!sameKey(minerKey, decodeHotkey(SIGNED_HEADERS.minerHotkey, options.ownHotkey))) {
    throw signedRequestErrors.wrongAddressee(
      SIGNED_HEADERS.minerHotkey,
      options.ownHotkey,
      headers['miner-hotkey'],
    );
  }
  if (!options.allowedHotkeys(headers['validator-hotkey'])) {
    throw signedRequestErrors.hotkeyNotAllowed(SIGNED_HEADERS.validatorHotkey, headers['validator-hotkey']);
  }
  const windowMs = options.windowMs ?? DEFAULT_NONCE_WINDOW_MS;
  const windowNs = BigInt(windowMs) * 1_000_000n;
  const nowNs = clockNanos(options.clock ?? systemClock);
  if (nonceTimeNs < nowNs - windowNs || nonceTimeNs > nowNs + windowNs) {
    throw signedRequestErrors.nonceExpired(nonceTimeNs, nowNs, windowMs);
  }

  await cryptoWaitReady();
  const message = signingMessage(headers.nonce, headers['miner-hotkey'], options.body);
  if (!verifies(message, signature, validatorKey)) {
    throw signedRequestErrors.signatureInvalid(headers['validator-hotkey']);
  }
  // Nothing is awaited between here and the claim: two deliveries of one request cannot both pass.
  const signer = u8aToHex(validatorKey);
  if (
    !options.replayCache.claim(
      signer,
      headers.nonce,
      nonceTimeNs + windowNs,
      clockNanos(options.clock ?? systemClock),
    )
  ) {
    throw signedRequestErrors.nonceReplayed(headers['validator-hotkey'], headers.nonce);
  }
  return {
    validatorHotkey: headers['validator-hotkey'],
    minerHotkey: headers['miner-hotkey'],
    nonce: headers.nonce,
  };
}

/**
 * Signs the miner's reply the same way, roles swapped: the miner signs
 * `<request nonce>:<validator hotkey>:<sha256 hex of reply body>`. Echoing the request's nonce
 * (instead of a fresh one) binds the reply to that one request, so the caller needs no replay
 * cache of its own: an old reply of the same miner carries another nonce and is refused.
 * Replies are whole bodies; a streamed reply cannot be signed this way.
 */
export function signReply(options: SignReplyOptions): SignedHeaders {
  const { request } = options;
  return {
    [SIGNED_HEADERS.validatorHotkey]: request.validatorHotkey,
    [SIGNED_HEADERS.minerHotkey]: options.signer.address,
    [SIGNED_HEADERS.nonce]: request.nonce,
    [SIGNED_HEADERS.signature]: sign(
      options.signer,
      signingMessage(request.nonce, request.validatorHotkey, options.body),
    ),
  };
}

/**
 * Checks, on the caller's side, that a reply was signed by the miner the request went to,
 * is addressed back to the caller, answers this very request (same nonce), and that its body is
 * the one signed. Throws a {@link SignedRequestError} naming what failed.
 */
export async function verifyReply(options: VerifyReplyOptions): Promise<VerifiedReply> {
  const headers = readSignedHeaders(options.headers);
  const { request } = options;
  const minerKey = decodeHotkey(SIGNED_HEADERS.minerHotkey, headers['miner-hotkey']);
  const validatorKey = decodeHotkey(SIGNED_HEADERS.validatorHotkey, headers['validator-hotkey']);
  const signature = decodeSignature(headers.signature);

  if (!sameKey(validatorKey, decodeHotkey(SIGNED_HEADERS.validatorHotkey, request['validator-hotkey']))) {
    throw signedRequestErrors.wrongAddressee(
      SIGNED_HEADERS.validatorHotkey,
      request['validator-hotkey'],
      headers['validator-hotkey'],
    );
  }
  if (!sameKey(minerKey, decodeHotkey(SIGNED_HEADERS.minerHotkey, request['miner-hotkey']))) {
    throw signedRequestErrors.hotkeyNotAllowed(SIGNED_HEADERS.minerHotkey, headers['miner-hotkey']);
  }
  if (headers.nonce !== request.nonce) {
    throw signedRequestErrors.headerInvalid(SIGNED_HEADERS.nonce, "does not echo the request's nonce");
  }

  await cryptoWaitReady();
  const message = signingMessage(headers.nonce, headers['validator-hotkey'], options.body);
  if (!verifies(message, signature, minerKey)) {
    throw signedRequestErrors.signatureInvalid(headers['miner-hotkey']);
  }
  return { minerHotkey: headers['miner-hotkey'], nonce: headers.nonce };
}

/**
 * An allow-list by public key, so the same hotkey is recognised whatever SS58 prefix it is
 * written with. A malformed address in the list is a typed error at once (configuration is
 * wrong), not a hotkey silently allowed or refused later.
 */
export function allowHotkeys(addresses: Iterable<string>): AllowedHotkeys {
  const allowed = new Set<string>();
  let index = 0;
  for (const address of addresses) allowed.add(u8aToHex(decodeConfiguredHotkey(address, index++)));
  return (hotkey) => {
    try {
      return allowed.has(u8aToHex(decodeAddress(hotkey)));
    } catch {
      return false;
    }
  };
}

function sign(signer: KeyringPair, message: string): string {
  // Raw UTF-8 bytes, not polkadot-js's `<Bytes>` wrapping: what fiber's `Keypair.sign(str)` signs.
  return u8aToHex(signer.sign(stringToU8a(message)));
}

function verifies(message: string, signature: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return sr25519Verify(stringToU8a(message), signature, publicKey);
  } catch {
    // schnorrkel throws, rather than answering false, for bytes that are no signature at all.
    return false;
  }
}

function readSignedHeaders(source: HeaderSource): SignedHeaders {
  return {
    'validator-hotkey': readHeader(source, SIGNED_HEADERS.validatorHotkey),
    'miner-hotkey': readHeader(source, SIGNED_HEADERS.minerHotkey),
    nonce: readHeader(source, SIGNED_HEADERS.nonce),
    signature: readHeader(source, SIGNED_HEADERS.signature),
  };
}

function readHeader(source: HeaderSource, name: SignedHeaderName): string {
  const value = isHeaders(source) ? source.get(name) : recordHeader(source, name);
  if (value === undefined || value === null || value === '') throw signedRequestErrors.headerMissing(name);
  if (typeof value !== 'string') throw signedRequestErrors.headerInvalid(name, 'sent more than once');
  return value;
}

function recordHeader(
  source: Readonly<Record<string, string | readonly string[] | undefined>>,
  name: string,
): string | readonly string[] | undefined {
  if (name in source) return singleValue(source[name]);
  const key = Object.keys(source).find((candidate) => candidate.toLowerCase() === name);
  return key === undefined ? undefined : singleValue(source[key]);
}

function singleValue(value: string | readonly string[] | undefined): string | readonly string[] | undefined {
  return Array.isArray(value) && value.length === 1 ? (value[0] as string) : value;
}

function isHeaders(source: HeaderSource): source is Headers {
  return typeof Headers !== 'undefined' && source instanceof Headers;
}

function decodeHotkey(header: SignedHeaderName, address: string): Uint8Array {
  try {
    // decodeAddress also takes raw hex public keys; a hotkey header is an SS58 address only.
    if (isHex(address)) throw new Error('hex, not SS58');
    const key = decodeAddress(address);
    if (key.length !== 32) throw new Error('not a 32-byte public key');
    return key;
  } catch {
    throw signedRequestErrors.headerInvalid(header, 'not an SS58 address of a 32-byte public key');
  }
}

function decodeConfiguredHotkey(address: string, index: number): Uint8Array {
  try {
    return decodeHotkey(SIGNED_HEADERS.validatorHotkey, address);
  } catch {
    throw new ValidationError('allowed hotkeys', [
      { path: String(index), message: `${address} is not an SS58 address of a 32-byte public key` },
    ]);
  }
}

const SIGNATURE_PATTERN = /^0x[0-9a-fA-F]{128}$/;

function decodeSignature(hex: string): Uint8Array {
  if (!SIGNATURE_PATTERN.test(hex)) {
    throw signedRequestErrors.headerInvalid(SIGNED_HEADERS.signature, 'expected 0x and 64 bytes of hex');
  }
  return Uint8Array.from(Buffer.from(hex.slice(2), 'hex'));
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, index) => byte === b[index]);
}

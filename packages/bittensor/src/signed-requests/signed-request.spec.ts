import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { cryptoWaitReady, encodeAddress } from '@polkadot/util-crypto';
import { type Clock, isValidationError } from '@tessera/contracts';
import { beforeAll, describe, expect, it } from 'vitest';
import { NonceReplayCache } from './nonce-replay-cache.js';
import { type SignedHeaders, bodySha256Hex, createNonce, signingMessage } from './signed-message.js';
import {
  isHotkeyNotAllowed,
  isNonceExpired,
  isNonceReplayed,
  isSignatureInvalid,
  isSignedHeaderInvalid,
  isSignedHeaderMissing,
  isSignedRequestError,
  isWrongAddressee,
} from './signed-request-errors.js';
import {
  type HeaderSource,
  allowHotkeys,
  signReply,
  signRequest,
  verifyReply,
  verifyRequest,
} from './signed-request.js';

// Known vectors. The sha256 values were computed outside this code (`printf '%s' BODY | sha256sum`);
// the signatures were made once with the dev keys //Alice (validator) and //Bob (miner) and are
// committed here: sr25519 signatures are randomised, so signing again gives other bytes.
const ALICE = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
const BOB = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty';
const NONCE = '1735689600000000000_Tessera042';
const NONCE_TIME_MS = 1_735_689_600_000;
const REQUEST_BODY = '{"model":"tiny","prompt":"hello"}';
const REQUEST_BODY_SHA256 = '32c270bd687ec8c123e40ec9674736adbea7f2562550a2a90b0408762f3cdb2f';
const REQUEST_SIGNATURE =
  '0xcc8e2170159b1a1242409105c9334f7d8218d9af083c7510b9ee416326ab5678e1860fb3aafb0981b224768002112b56ef24610ada41bb02fb880b1a7cbdd185';
const REPLY_BODY = '{"ok":true}';
const REPLY_BODY_SHA256 = '4062edaf750fb8074e7e83e0c9028c94e32468a8b6f1614774328ef045150f93';
const REPLY_SIGNATURE =
  '0x28cb643e84f0a2d3a8a268f6c80d5aabc5ecca88f6e0491e3737cdd12c095f2498010532036ce2620810d55059939df0c5294ba4572b970def945409054ac288';

const KNOWN_REQUEST: SignedHeaders = {
  'validator-hotkey': ALICE,
  'miner-hotkey': BOB,
  nonce: NONCE,
  signature: REQUEST_SIGNATURE,
};

function clockAt(ms: number): Clock {
  return { now: () => new Date(ms) };
}

function flipHexByte(hex: string, byteIndex: number): string {
  const at = 2 + byteIndex * 2;
  const flipped = (parseInt(hex.slice(at, at + 2), 16) ^ 0x01).toString(16).padStart(2, '0');
  return hex.slice(0, at) + flipped + hex.slice(at + 2);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

let alice: KeyringPair;
let bob: KeyringPair;
let charlie: KeyringPair;

beforeAll(async () => {
  await cryptoWaitReady();
  const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
  alice = keyring.addFromUri('//Alice');
  bob = keyring.addFromUri('//Bob');
  charlie = keyring.addFromUri('//Charlie');
});

/** A miner (Bob) that accepts Alice, with its own replay cache and a clock the test sets. */
function bobReceiver(at = NONCE_TIME_MS) {
  const replayCache = new NonceReplayCache();
  let now = at;
  const clock: Clock = { now: () => new Date(now) };
  return {
    replayCache,
    setTime: (ms: number) => (now = ms),
    verify: (headers: HeaderSource, body: string | Uint8Array = REQUEST_BODY) =>
      verifyRequest({
        headers,
        body,
        ownHotkey: BOB,
        allowedHotkeys: allowHotkeys([ALICE]),
        replayCache,
        clock,
      }),
  };
}

describe('known vectors', () => {
  it('hashes the body and builds the exact message fiber signs', () => {
    expect(bodySha256Hex(REQUEST_BODY)).toBe(REQUEST_BODY_SHA256);
    expect(bodySha256Hex(new TextEncoder().encode(REQUEST_BODY))).toBe(REQUEST_BODY_SHA256);
    expect(signingMessage(NONCE, BOB, REQUEST_BODY)).toBe(`${NONCE}:${BOB}:${REQUEST_BODY_SHA256}`);
    expect(signingMessage(NONCE, ALICE, REPLY_BODY)).toBe(`${NONCE}:${ALICE}:${REPLY_BODY_SHA256}`);
  });

  it('makes a nonce from the clock in ns and unbiased alphanumerics', () => {
    // 250 is above the last multiple of 62 and is skipped; the rest map to "Tessera042".
    const bytes = [250, 19, 30, 44, 44, 30, 43, 26, 52, 56, 54, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    expect(createNonce(clockAt(NONCE_TIME_MS), (size) => Uint8Array.from(bytes.slice(0, size)))).toBe(NONCE);
    expect(createNonce(clockAt(NONCE_TIME_MS))).toMatch(/^1735689600000000000_[A-Za-z0-9]{10}$/);
  });

  it('verifies the committed request signature, and refuses it with one byte flipped', async () => {
    await expect(bobReceiver().verify(KNOWN_REQUEST)).resolves.toEqual({
      validatorHotkey: ALICE,
      minerHotkey: BOB,
      nonce: NONCE,
    });
    for (const byteIndex of [0, 31, 63]) {
      const tampered = { ...KNOWN_REQUEST, signature: flipHexByte(REQUEST_SIGNATURE, byteIndex) };
      expect(isSignatureInvalid(await rejection(bobReceiver().verify(tampered)))).toBe(true);
    }
  });

  it('verifies the committed reply signature', async () => {
    const reply = { ...KNOWN_REQUEST, signature: REPLY_SIGNATURE };
    await expect(verifyReply({ headers: reply, body: REPLY_BODY, request: KNOWN_REQUEST })).resolves.toEqual({
      minerHotkey: BOB,
      nonce: NONCE,
    });
    const flipped = { ...reply, signature: flipHexByte(REPLY_SIGNATURE, 10) };
    const err = await rejection(verifyReply({ headers: flipped, body: REPLY_BODY, request: KNOWN_REQUEST }));
    expect(isSignatureInvalid(err)).toBe(true);
  });
});

describe('verifyRequest', () => {
  it('accepts what signRequest makes, from a Headers object too', async () => {
    const headers = signRequest({
      signer: alice,
      minerHotkey: BOB,
      body: REQUEST_BODY,
      clock: clockAt(NONCE_TIME_MS),
    });
    expect(headers['validator-hotkey']).toBe(ALICE);
    expect(headers['miner-hotkey']).toBe(BOB);
    const verified = await bobReceiver().verify(
      new Headers({ ...headers, 'content-type': 'application/json' }),
    );
    expect(verified).toEqual({ validatorHotkey: ALICE, minerHotkey: BOB, nonce: headers.nonce });
  });

  it('reads header names case-insensitively from a plain record', async () => {
    const headers = {
      'Validator-Hotkey': ALICE,
      'MINER-HOTKEY': BOB,
      Nonce: NONCE,
      Signature: [REQUEST_SIGNATURE],
    };
    await expect(bobReceiver().verify(headers)).resolves.toMatchObject({ validatorHotkey: ALICE });
  });

  it('accepts a nonce once: the same request again is a replay', async () => {
    const receiver = bobReceiver();
    await receiver.verify(KNOWN_REQUEST);
    const err = await rejection(receiver.verify(KNOWN_REQUEST));
    expect(isNonceReplayed(err)).toBe(true);
    expect(err).toMatchObject({ details: { nonce: NONCE, signer: ALICE } });
  });

  it('does not let a request with a bad signature burn the nonce', async () => {
    const receiver = bobReceiver();
    const forged = { ...KNOWN_REQUEST, signature: flipHexByte(REQUEST_SIGNATURE, 5) };
    expect(isSignatureInvalid(await rejection(receiver.verify(forged)))).toBe(true);
    expect(receiver.replayCache.size).toBe(0);
    await expect(receiver.verify(KNOWN_REQUEST)).resolves.toMatchObject({ nonce: NONCE });
  });

  it('accepts a nonce up to 120 s old or ahead, and refuses one beyond', async () => {
    await expect(bobReceiver(NONCE_TIME_MS + 120_000).verify(KNOWN_REQUEST)).resolves.toBeDefined();
    await expect(bobReceiver(NONCE_TIME_MS - 120_000).verify(KNOWN_REQUEST)).resolves.toBeDefined();
    const tooOld = await rejection(bobReceiver(NONCE_TIME_MS + 120_001).verify(KNOWN_REQUEST));
    expect(isNonceExpired(tooOld)).toBe(true);
    const tooFarAhead = await rejection(bobReceiver(NONCE_TIME_MS - 120_001).verify(KNOWN_REQUEST));
    expect(isNonceExpired(tooFarAhead)).toBe(true);
  });

  it('forgets a nonce once its window has passed, and the replay is then refused as expired', async () => {
    const receiver = bobReceiver();
    await receiver.verify(KNOWN_REQUEST);
    expect(receiver.replayCache.size).toBe(1);
    receiver.setTime(NONCE_TIME_MS + 121_000);
    expect(isNonceExpired(await rejection(receiver.verify(KNOWN_REQUEST)))).toBe(true);
    // A later request from the same validator sweeps the expired entry away.
    const fresh = signRequest({
      signer: alice,
      minerHotkey: BOB,
      body: REQUEST_BODY,
      clock: clockAt(NONCE_TIME_MS + 121_000),
    });
    await receiver.verify(fresh);
    expect(receiver.replayCache.size).toBe(1);
  });

  it('refuses a request addressed to another miner', async () => {
    const toCharlie = signRequest({
      signer: alice,
      minerHotkey: charlie.address,
      body: REQUEST_BODY,
      clock: clockAt(NONCE_TIME_MS),
    });
    const err = await rejection(bobReceiver().verify(toCharlie));
    expect(isWrongAddressee(err)).toBe(true);
    expect(err).toMatchObject({
      details: { header: 'miner-hotkey', expected: BOB, actual: charlie.address },
    });
  });

  it('refuses a tampered body', async () => {
    const err = await rejection(bobReceiver().verify(KNOWN_REQUEST, REQUEST_BODY.replace('hello', 'hellp')));
    expect(isSignatureInvalid(err)).toBe(true);
  });

  it('refuses a signer that is not allowed, before checking its signature', async () => {
    const fromCharlie = signRequest({
      signer: charlie,
      minerHotkey: BOB,
      body: REQUEST_BODY,
      clock: clockAt(NONCE_TIME_MS),
    });
    const err = await rejection(bobReceiver().verify(fromCharlie));
    expect(isHotkeyNotAllowed(err)).toBe(true);
    expect(err).toMatchObject({ details: { header: 'validator-hotkey', hotkey: charlie.address } });
  });

  it("refuses a signature by another key than the claimed validator's", async () => {
    const headers = signRequest({
      signer: charlie,
      minerHotkey: BOB,
      body: REQUEST_BODY,
      clock: clockAt(NONCE_TIME_MS),
    });
    const err = await rejection(bobReceiver().verify({ ...headers, 'validator-hotkey': ALICE }));
    expect(isSignatureInvalid(err)).toBe(true);
  });

  it.each(['validator-hotkey', 'miner-hotkey', 'nonce', 'signature'] as const)(
    'names the missing %s header',
    async (header) => {
      const headers: Record<string, string> = { ...KNOWN_REQUEST };
      delete headers[header];
      const err = await rejection(bobReceiver().verify(headers));
      expect(isSignedHeaderMissing(err)).toBe(true);
      expect(err).toMatchObject({ details: { header } });
    },
  );

  it.each([
    ['validator-hotkey', { 'validator-hotkey': '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ' }],
    [
      'validator-hotkey',
      { 'validator-hotkey': '0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d' },
    ],
    ['miner-hotkey', { 'miner-hotkey': 'bob' }],
    ['nonce', { nonce: '1735689600000000000-Tessera042' }],
    ['nonce', { nonce: '1735689600000000000_Tessera04' }],
    ['nonce', { nonce: '123456789012345678901_Tessera042' }],
    ['signature', { signature: REQUEST_SIGNATURE.slice(2) }],
    ['signature', { signature: REQUEST_SIGNATURE.slice(0, -2) }],
    ['signature', { signature: [REQUEST_SIGNATURE, REQUEST_SIGNATURE] }],
  ] as const)('names the invalid %s header (%j)', async (header, change) => {
    const err = await rejection(bobReceiver().verify({ ...KNOWN_REQUEST, ...change }));
    expect(isSignedHeaderInvalid(err)).toBe(true);
    expect(isSignedRequestError(err)).toBe(true);
    expect(err).toMatchObject({ details: { header } });
  });
});

describe('signReply and verifyReply', () => {
  async function answered(body = REPLY_BODY) {
    const request = signRequest({ signer: alice, minerHotkey: BOB, body: REQUEST_BODY });
    const receiver = bobReceiver(Date.now());
    const verified = await receiver.verify(request);
    return { request, verified, reply: signReply({ signer: bob, request: verified, body }) };
  }

  it('lets the caller check the answer came from the miner it asked', async () => {
    const { request, reply } = await answered();
    expect(reply).toMatchObject({ 'validator-hotkey': ALICE, 'miner-hotkey': BOB, nonce: request.nonce });
    await expect(verifyReply({ headers: reply, body: REPLY_BODY, request })).resolves.toEqual({
      minerHotkey: BOB,
      nonce: request.nonce,
    });
  });

  it('refuses a reply signed by another hotkey', async () => {
    const { request, verified } = await answered();
    const fromCharlie = signReply({ signer: charlie, request: verified, body: REPLY_BODY });
    const err = await rejection(verifyReply({ headers: fromCharlie, body: REPLY_BODY, request }));
    expect(isHotkeyNotAllowed(err)).toBe(true);
    // Claiming to be Bob does not help: the signature is Charlie's.
    const claimed = await rejection(
      verifyReply({ headers: { ...fromCharlie, 'miner-hotkey': BOB }, body: REPLY_BODY, request }),
    );
    expect(isSignatureInvalid(claimed)).toBe(true);
  });

  it('refuses a reply addressed to another validator', async () => {
    const { request, verified } = await answered();
    const toCharlie = signReply({
      signer: bob,
      request: { ...verified, validatorHotkey: charlie.address },
      body: REPLY_BODY,
    });
    expect(
      isWrongAddressee(await rejection(verifyReply({ headers: toCharlie, body: REPLY_BODY, request }))),
    ).toBe(true);
  });

  it("refuses an earlier reply of the same miner (another request's nonce)", async () => {
    const earlier = await answered();
    const later = await answered();
    const err = await rejection(
      verifyReply({ headers: earlier.reply, body: REPLY_BODY, request: later.request }),
    );
    expect(isSignedHeaderInvalid(err)).toBe(true);
    expect(err).toMatchObject({ details: { header: 'nonce' } });
  });

  it('refuses a tampered reply body', async () => {
    const { request, reply } = await answered();
    const err = await rejection(verifyReply({ headers: reply, body: '{"ok":false}', request }));
    expect(isSignatureInvalid(err)).toBe(true);
  });
});

describe('allowHotkeys', () => {
  it('matches by public key, whatever SS58 prefix the address is written with', () => {
    const allowed = allowHotkeys([ALICE]);
    const alicePolkadot = encodeAddress(alice.publicKey, 0);
    expect(alicePolkadot).not.toBe(ALICE);
    expect(allowed(alicePolkadot)).toBe(true);
    expect(allowed(BOB)).toBe(false);
    expect(allowed('not an address')).toBe(false);
  });

  it('refuses a malformed address in the configured list, naming its position', () => {
    try {
      allowHotkeys([ALICE, 'nope']);
      expect.unreachable();
    } catch (err) {
      expect(isValidationError(err)).toBe(true);
      expect(err).toMatchObject({ issues: [{ path: '1' }] });
    }
  });
});

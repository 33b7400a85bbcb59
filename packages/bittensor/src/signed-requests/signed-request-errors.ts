import { TesseraError, isTesseraError } from '@tessera/contracts';

/**
 * Why a signed validator↔miner message was refused. Stable codes: a miner's HTTP edge maps them
 * to statuses (401, or 403 for a hotkey that is not allowed) and a caller tells them apart
 * with the predicates below, never by message text.
 */
export const SignedRequestErrorCode = {
  /** One of the four signed headers is absent; `details.header` names it. */
  HeaderMissing: 'bittensor.SIGNED_HEADER_MISSING',
  /** A signed header is present but malformed (bad SS58, nonce or hex); `details.header` names it. */
  HeaderInvalid: 'bittensor.SIGNED_HEADER_INVALID',
  /** The signature does not verify against the signer's hotkey, nonce, addressee and body. */
  SignatureInvalid: 'bittensor.SIGNATURE_INVALID',
  /** The nonce's time lies outside the accepted window around the receiver's clock. */
  NonceExpired: 'bittensor.NONCE_EXPIRED',
  /** This signer's nonce was accepted before: a replay. */
  NonceReplayed: 'bittensor.NONCE_REPLAYED',
  /** The message is addressed to another hotkey than the receiver's. */
  WrongAddressee: 'bittensor.WRONG_ADDRESSEE',
  /** The signer's hotkey is not one the receiver accepts. */
  HotkeyNotAllowed: 'bittensor.HOTKEY_NOT_ALLOWED',
} as const;

export type SignedRequestErrorCodeValue =
  (typeof SignedRequestErrorCode)[keyof typeof SignedRequestErrorCode];

/** The names of the signed headers, as they travel (lowercase; HTTP header names are case-insensitive). */
export type SignedHeaderName = 'validator-hotkey' | 'miner-hotkey' | 'nonce' | 'signature';

/** A signed message was refused; `code` says why (see {@link SignedRequestErrorCode}). */
export class SignedRequestError extends TesseraError<SignedRequestErrorCodeValue> {
  override readonly name = 'SignedRequestError';
}

/** Builders for each refusal, so every caller names the same details. */
export const signedRequestErrors = {
  headerMissing: (header: SignedHeaderName) =>
    new SignedRequestError(SignedRequestErrorCode.HeaderMissing, `signed header ${header} is missing`, {
      details: { header },
    }),
  headerInvalid: (header: SignedHeaderName, reason: string) =>
    new SignedRequestError(
      SignedRequestErrorCode.HeaderInvalid,
      `signed header ${header} is invalid: ${reason}`,
      {
        details: { header, reason },
      },
    ),
  signatureInvalid: (signer: string) =>
    new SignedRequestError(
      SignedRequestErrorCode.SignatureInvalid,
      `signature does not verify for hotkey ${signer} over this nonce, addressee and body`,
      { details: { signer } },
    ),
  nonceExpired: (nonceTimeNs: bigint, nowNs: bigint, windowMs: number) =>
    new SignedRequestError(
      SignedRequestErrorCode.NonceExpired,
      `nonce time is ${(nonceTimeNs - nowNs) / 1_000_000n} ms from now, outside the ±${windowMs} ms window`,
      { details: { nonceTimeNs: nonceTimeNs.toString(), nowNs: nowNs.toString(), windowMs } },
    ),
  nonceReplayed: (signer: string, nonce: string) =>
    new SignedRequestError(
      SignedRequestErrorCode.NonceReplayed,
      `nonce ${nonce} of ${signer} was already used`,
      {
        details: { signer, nonce },
      },
    ),
  wrongAddressee: (header: SignedHeaderName, expected: string, actual: string) =>
    new SignedRequestError(
      SignedRequestErrorCode.WrongAddressee,
      `message is addressed to ${actual} (${header}), not to ${expected}`,
      { details: { header, expected, actual } },
    ),
  hotkeyNotAllowed: (header: SignedHeaderName, hotkey: string) =>
    new SignedRequestError(
      SignedRequestErrorCode.HotkeyNotAllowed,
      `hotkey ${hotkey} (${header}) is not allowed to sign here`,
      { details: { header, hotkey } },
    ),
};

/** True for any refusal of a signed message. */
export function isSignedRequestError(err: unknown): err is SignedRequestError {
  return (
    isTesseraError(err) && (Object.values(SignedRequestErrorCode) as readonly string[]).includes(err.code)
  );
}

export const isSignedHeaderMissing = (err: unknown): err is SignedRequestError =>
  isTesseraError(err, SignedRequestErrorCode.HeaderMissing);
export const isSignedHeaderInvalid = (err: unknown): err is SignedRequestError =>
  isTesseraError(err, SignedRequestErrorCode.HeaderInvalid);
export const isSignatureInvalid = (err: unknown): err is SignedRequestError =>
  isTesseraError(err, SignedRequestErrorCode.SignatureInvalid);
export const isNonceExpired = (err: unknown): err is SignedRequestError =>
  isTesseraError(err, SignedRequestErrorCode.NonceExpired);
export const isNonceReplayed = (err: unknown): err is SignedRequestError =>
  isTesseraError(err, SignedRequestErrorCode.NonceReplayed);
export const isWrongAddressee = (err: unknown): err is SignedRequestError =>
  isTesseraError(err, SignedRequestErrorCode.WrongAddressee);
export const isHotkeyNotAllowed = (err: unknown): err is SignedRequestError =>
  isTesseraError(err, SignedRequestErrorCode.HotkeyNotAllowed);

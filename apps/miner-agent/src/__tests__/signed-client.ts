import type { KeyringPair } from '@polkadot/keyring/types';
import { signRequest, verifyReply, type SignedHeaders } from '@tessera/bittensor';
import type { Clock } from '@tessera/contracts';

/** One answer of the control API; `signedBy` is the hotkey whose reply signature verified, if any. */
export interface ControlAnswer {
  status: number;
  body: unknown;
  signedBy: string | undefined;
}

/** Options to send a request the way an attacker or a broken client would. */
export interface SendOptions {
  /** Sign as if at this time (an expired nonce). */
  clock?: Clock;
  /** Address the request to this hotkey instead of the miner's. */
  addressee?: string;
  /** Send these headers instead of fresh ones (a replay, a forgery). */
  headers?: SignedHeaders;
  /** Send this body instead of the signed one (a tampered body). */
  bodyOverride?: string;
}

/** A validator's view of the control API: signs each request, checks each reply's signature. */
export class SignedControlClient {
  /** Headers of the last request sent, to replay them. */
  lastHeaders: SignedHeaders | undefined;

  constructor(
    private readonly baseUrl: string,
    private readonly validator: KeyringPair,
    private readonly minerHotkey: string,
  ) {}

  get(path: string, options: SendOptions = {}): Promise<ControlAnswer> {
    return this.send('GET', path, undefined, options);
  }

  post(path: string, body: unknown, options: SendOptions = {}): Promise<ControlAnswer> {
    return this.send('POST', path, body, options);
  }

  delete(path: string, options: SendOptions = {}): Promise<ControlAnswer> {
    return this.send('DELETE', path, undefined, options);
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    options: SendOptions,
  ): Promise<ControlAnswer> {
    const text = body === undefined ? '' : JSON.stringify(body);
    const headers =
      options.headers ??
      signRequest({
        signer: this.validator,
        minerHotkey: options.addressee ?? this.minerHotkey,
        body: text,
        ...(options.clock ? { clock: options.clock } : {}),
      });
    this.lastHeaders = headers;
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined && options.bodyOverride === undefined
        ? {}
        : { body: options.bodyOverride ?? text }),
    });
    const replyText = await response.text();
    let signedBy: string | undefined;
    if (response.headers.has('signature')) {
      signedBy = (await verifyReply({ headers: response.headers, body: replyText, request: headers }))
        .minerHotkey;
    }
    return { status: response.status, body: JSON.parse(replyText) as unknown, signedBy };
  }
}

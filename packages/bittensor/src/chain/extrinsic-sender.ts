import type { ApiPromise } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { EventRecord } from '@polkadot/types/interfaces';
import type { ISubmittableResult } from '@polkadot/types/types';
import { pino, type Logger } from 'pino';
import { DispatchError, ExtrinsicRejectedError, chainErrors } from './chain-errors.js';

/** Where an extrinsic landed. */
export interface Inclusion {
  blockHash: string;
  blockNumber: number;
  extrinsicHash: string;
  /** The events the extrinsic emitted in that block. */
  events: EventRecord[];
}

export interface ExtrinsicSenderOptions {
  logger?: Logger;
  /**
   * Blocks an extrinsic stays valid (a mortal era), so one stuck in a pool expires instead of
   * landing much later; 0 makes it immortal. Default 64, as @polkadot/api's.
   */
  eraPeriod?: number;
  /** How long to wait for inclusion before giving up with a `TIMEOUT` error; default 120 s. */
  inclusionTimeoutMs?: number;
}

export interface SendOptions {
  /** Ends the wait (the extrinsic may still land: the outcome is then unknown to the caller). */
  signal?: AbortSignal;
  /** Called once the pool has accepted the extrinsic: from here on it may land. */
  onSubmitted?: () => void;
}

/**
 * Signs and sends one signer's extrinsics. Nonces are explicit: the next one is the larger of the
 * chain's `accountNextIndex` and the last one this sender used + 1, so two sends in a row never
 * reuse a nonce while the first is still in the pool; submissions are serialised for the same
 * reason. Each send waits for inclusion and turns every outcome into a typed error:
 * {@link DispatchError} (the runtime refused), {@link ExtrinsicRejectedError} (the pool refused),
 * `EXTRINSIC_DROPPED`, `UNAVAILABLE` (connection), `TIMEOUT`; see `isTransientChainError`.
 */
export class ExtrinsicSender {
  private nextNonce = -1;
  private submissions: Promise<unknown> = Promise.resolve();
  private readonly logger: Logger;

  constructor(
    private readonly api: ApiPromise,
    private readonly signer: KeyringPair,
    private readonly options: ExtrinsicSenderOptions = {},
  ) {
    this.logger = options.logger ?? pino({ level: 'silent' });
  }

  get address(): string {
    return this.signer.address;
  }

  /** Signs, submits and waits until `tx` is in a block; resolves with where, or throws a typed error. */
  async send(tx: SubmittableExtrinsic<'promise'>, options: SendOptions = {}): Promise<Inclusion> {
    const timeoutMs = this.options.inclusionTimeoutMs ?? 120_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    const abortError = (): unknown =>
      timeout.aborted ? chainErrors.inclusionTimeout(timeoutMs) : signal.reason;

    let resolveInclusion!: (result: ISubmittableResult) => void;
    let rejectInclusion!: (err: unknown) => void;
    const included = new Promise<ISubmittableResult>((resolve, reject) => {
      resolveInclusion = resolve;
      rejectInclusion = reject;
    });
    included.catch(() => undefined);

    // One submission at a time per signer: the nonce is read, used and recorded in one piece.
    const submitted = this.submissions.then(async () => {
      signal.throwIfAborted();
      const nonce = Math.max(await this.chainNonce(), this.nextNonce);
      try {
        const unsubscribe = await tx.signAndSend(
          this.signer,
          { nonce, era: this.options.eraPeriod ?? 64 },
          (result) => this.onStatus(result, resolveInclusion, rejectInclusion),
        );
        this.nextNonce = nonce + 1;
        this.logger.debug({ nonce, extrinsicHash: tx.hash.toHex() }, 'extrinsic submitted');
        return unsubscribe;
      } catch (err) {
        // The pool never saw it: the next send reads the nonce from the chain again.
        this.nextNonce = -1;
        throw this.submissionError(err);
      }
    });
    this.submissions = submitted.catch(() => undefined);

    const onAbort = (): void => rejectInclusion(abortError());
    signal.addEventListener('abort', onAbort, { once: true });
    // A dropped connection ends the subscription silently: the outcome is unknown, try again later.
    const onDisconnected = (): void =>
      rejectInclusion(chainErrors.unavailable('connection dropped while waiting for inclusion'));
    this.api.on('disconnected', onDisconnected);
    let unsubscribe: (() => void) | undefined;
    try {
      unsubscribe = await submitted;
      options.onSubmitted?.();
      const result = await included;
      if (result.dispatchError) throw this.dispatchError(result);
      const blockHash = (
        result.status.isInBlock ? result.status.asInBlock : result.status.asFinalized
      ).toHex();
      const header = await this.api.rpc.chain.getHeader(blockHash);
      return {
        blockHash,
        blockNumber: header.number.toNumber(),
        extrinsicHash: tx.hash.toHex(),
        events: result.events,
      };
    } catch (err) {
      if (signal.aborted && err === signal.reason) throw abortError();
      throw err;
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.api.off('disconnected', onDisconnected);
      unsubscribe?.();
    }
  }

  private onStatus(
    result: ISubmittableResult,
    resolve: (result: ISubmittableResult) => void,
    reject: (err: unknown) => void,
  ): void {
    const { status } = result;
    if (status.isInBlock || status.isFinalized) {
      resolve(result);
    } else if (status.isDropped || status.isUsurped || status.isInvalid) {
      // The nonce may be free again (dropped) or taken (usurped): ask the chain next time.
      this.nextNonce = -1;
      reject(chainErrors.dropped(status.type));
    }
  }

  private async chainNonce(): Promise<number> {
    try {
      return (await this.api.rpc.system.accountNextIndex(this.signer.address)).toNumber();
    } catch (err) {
      throw this.api.isConnected ? err : chainErrors.unavailable('reading the account nonce', err);
    }
  }

  private submissionError(err: unknown): unknown {
    if (!this.api.isConnected) return chainErrors.unavailable('submitting an extrinsic', err);
    // @polkadot/rpc-provider's RpcError: the JSON-RPC error code and its data (the pool's reason).
    if (err instanceof Error && typeof (err as { code?: unknown }).code === 'number') {
      const { code, data } = err as Error & { code: number; data?: unknown };
      // Without `data` the reason is in the message, after the code (`1010: {"invalid":…}`).
      const reason = typeof data === 'string' && data !== '' ? data : err.message.replace(/^\d+: /, '');
      return new ExtrinsicRejectedError(code, reason, err);
    }
    return err;
  }

  private dispatchError(result: ISubmittableResult): DispatchError {
    const dispatchError = result.dispatchError!;
    if (dispatchError.isModule) {
      const meta = this.api.registry.findMetaError(dispatchError.asModule);
      return new DispatchError(meta.section, meta.name, meta.docs.join(' '));
    }
    return new DispatchError('system', dispatchError.type);
  }
}

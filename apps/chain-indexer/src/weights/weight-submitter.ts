import { setTimeout as sleep } from 'node:timers/promises';
import { type ApiPromise } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import {
  type ExtrinsicSender,
  type Inclusion,
  SubtensorStorage,
  isDispatchError,
  isTransientChainError,
  randomSalt,
  subnetEpochs,
  weightsCommitHash,
} from '@tessera/bittensor';
import { WeightsSubmissionFailed, WeightsSubmitted, streamIdOf, type PendingEvent } from '@tessera/contracts';
import { isConcurrencyConflict, NO_STREAM, type EventStore } from '@tessera/eventstore';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { type Logger } from 'pino';
import { derivedEventId } from '../chain/event-id.js';
import { untilAborted } from '../shared/stoppable-retry.js';
import { blocksUntilAllowed, planWeights } from './plan-weights.js';
import { type Proposal, type WeightCommit, type WeightProposalInbox } from './weight-proposal-inbox.js';

export interface WeightSubmitterOptions {
  netuids: readonly number[];
  /** Attempts per proposal for transient failures (`isTransientChainError`). */
  maxAttempts: number;
  /** First retry delay; grows exponentially. */
  retryBaseMs?: number;
  /** How often the chain head is polled while waiting for a block; default 500 ms. */
  headPollMs?: number;
}

/** How a submission ended, for the caller's bookkeeping. */
export type SubmissionOutcome =
  | 'submitted'
  | 'failed'
  | 'unknown'
  /** Nothing was sent and the chain is unreachable: back to pending, to be tried again shortly. */
  | 'deferred'
  | 'stopped-unsent'
  | 'stopped-pending';

/** How far a submission got: decides what a stop leaves behind. */
interface Progress {
  /** The pool accepted an extrinsic for this proposal. */
  sent: boolean;
  /** The commit (with its salt) is stored in the inbox. */
  commitStored: boolean;
}

/**
 * Submits one proposal: plans it against the subnet as it is now, waits for the rate limit,
 * sends `setWeights` (or commit, wait for the reveal epoch, reveal), retries transient failures,
 * and publishes the outcome (`chain.WeightsSubmitted` / `chain.WeightsSubmissionFailed`, once:
 * deterministic ids on an aggregate expected empty). Every wait ends when `signal` aborts.
 */
export class WeightSubmitter {
  private readonly netuids: ReadonlySet<number>;
  private readonly storage: SubtensorStorage;

  constructor(
    private readonly api: ApiPromise,
    private readonly sender: ExtrinsicSender,
    private readonly store: EventStore,
    private readonly inbox: WeightProposalInbox,
    private readonly log: Logger,
    private readonly options: WeightSubmitterOptions,
  ) {
    this.netuids = new Set(options.netuids);
    this.storage = new SubtensorStorage(api);
  }

  private get hotkey(): string {
    return this.sender.address;
  }

  /**
   * Works a claimed proposal to its end. When `signal` aborts first: nothing sent → back to
   * pending (`stopped-unsent`); a commit stored → left in `submitting` for the next run to reveal
   * (`stopped-pending`); a `setWeights` in flight → left in `submitting`, outcome unknown.
   */
  async submit(proposal: Proposal, signal: AbortSignal): Promise<SubmissionOutcome> {
    const progress: Progress = { sent: false, commitStored: false };
    try {
      const plan = planWeights(proposal, this.netuids, await this.hotkeysByUid(proposal.netuid));
      if (!plan.ok) {
        this.log.warn({ proposalId: proposal.proposalId, reason: plan.reason }, 'weights proposal refused');
        await this.finish(
          proposal,
          'failed',
          plan.reason,
          this.failed(proposal, plan.reason, plan.message, false),
        );
        return 'failed';
      }
      if (plan.dropped.length > 0) {
        this.log.info(
          { proposalId: proposal.proposalId, dropped: plan.dropped },
          'dropped deregistered targets',
        );
      }
      const validatorUid = await this.storage.uidOf(proposal.netuid, this.hotkey);
      if (validatorUid === undefined) {
        const message = `validator hotkey ${this.hotkey} is not registered on netuid ${proposal.netuid}`;
        await this.finish(
          proposal,
          'failed',
          'ValidatorNotRegistered',
          this.failed(proposal, 'ValidatorNotRegistered', message, false),
        );
        return 'failed';
      }
      const commitReveal = await this.storage.commitRevealEnabled(proposal.netuid);
      const onSubmitted = (): void => {
        progress.sent = true;
      };

      const rateLimited = <T>(send: () => Promise<T>) =>
        this.retrying(signal, proposal.proposalId, async () => {
          await this.waitForRateLimit(proposal.netuid, validatorUid, proposal.proposalId, signal);
          return send();
        });
      let landed: Inclusion;
      if (commitReveal) {
        // Retried apart: a reveal that fails transiently is retried alone, never committed twice.
        const { commit, committed } = await rateLimited(() =>
          this.commit(proposal, plan.uids, plan.weights, signal, progress),
        );
        landed = await this.retrying(signal, proposal.proposalId, () =>
          this.revealWhenDue(proposal, commit, committed.blockNumber, signal),
        );
      } else {
        landed = await rateLimited(() =>
          this.sender.send(
            this.tx('setWeights', proposal.netuid, plan.uids, plan.weights, proposal.versionKey),
            {
              signal,
              onSubmitted,
            },
          ),
        );
      }
      this.log.info(
        { proposalId: proposal.proposalId, block: landed.blockNumber, targets: plan.uids.length },
        'weights submitted',
      );
      await this.finish(
        proposal,
        'submitted',
        null,
        this.submitted(proposal, plan, commitReveal ? 'commitWeights' : 'setWeights', landed),
      );
      return 'submitted';
    } catch (err) {
      if (signal.aborted) {
        if (!progress.sent && !progress.commitStored) {
          await this.inbox.release(proposal.proposalId);
          return 'stopped-unsent';
        }
        this.log.info(
          { proposalId: proposal.proposalId },
          'stopped while submitting; the next run resumes it',
        );
        return 'stopped-pending';
      }
      if (!progress.sent && !progress.commitStored && (!this.api.isConnected || isTransientChainError(err))) {
        this.log.warn(
          { proposalId: proposal.proposalId, err },
          'chain unavailable before sending; proposal back to pending',
        );
        await this.inbox.release(proposal.proposalId);
        return 'deferred';
      }
      const reason = isDispatchError(err) ? err.errorName : 'SubmissionError';
      this.log.warn({ proposalId: proposal.proposalId, reason, err }, 'weights submission failed');
      await this.finish(
        proposal,
        'failed',
        reason,
        this.failed(proposal, reason, describe(err), progress.sent),
      );
      return 'failed';
    }
  }

  /**
   * Reveals a commit a previous run made but did not reveal, when it is still on chain (else
   * it never landed, or was revealed: the outcome is unknown, and nothing is resent).
   */
  async revealInterrupted(
    proposal: Proposal,
    commit: WeightCommit,
    signal: AbortSignal,
  ): Promise<SubmissionOutcome> {
    const onChain = (await this.storage.weightCommits(proposal.netuid, this.hotkey)).find(
      (entry) => entry.hash === commit.hash,
    );
    if (!onChain) {
      this.log.warn(
        { proposalId: proposal.proposalId },
        'interrupted commit is not on chain (never landed, or already revealed); outcome unknown, not resending',
      );
      return 'unknown';
    }
    this.log.info({ proposalId: proposal.proposalId }, 'revealing a commit made before the restart');
    try {
      const landed = await this.retrying(signal, proposal.proposalId, () =>
        this.revealWhenDue(proposal, commit, onChain.commitBlock, signal),
      );
      await this.finish(
        proposal,
        'submitted',
        null,
        this.submitted(proposal, commit, 'commitWeights', landed),
      );
      return 'submitted';
    } catch (err) {
      if (signal.aborted) return 'stopped-pending';
      const reason = isDispatchError(err) ? err.errorName : 'SubmissionError';
      await this.finish(proposal, 'failed', reason, this.failed(proposal, reason, describe(err), true));
      return 'failed';
    }
  }

  /** Transient chain failures are retried with backoff, up to `maxAttempts`; a stop ends the wait. */
  private retrying<T>(signal: AbortSignal, proposalId: string, task: () => Promise<T>): Promise<T> {
    const policy = retry(handleWhen(isTransientChainError), {
      maxAttempts: Math.max(0, this.options.maxAttempts - 1),
      backoff: new ExponentialBackoff({ initialDelay: this.options.retryBaseMs ?? 500, maxDelay: 30_000 }),
    }).dangerouslyUnref();
    const listener = policy.onRetry((event) => {
      if ('error' in event) {
        this.log.warn(
          {
            proposalId,
            attempt: event.attempt,
            retryInMs: Math.round(event.delay),
            reason: describe(event.error),
          },
          'weights submission failed; retrying',
        );
      }
    });
    return untilAborted(
      policy.execute(({ signal: attemptSignal }) => {
        attemptSignal.throwIfAborted();
        return task();
      }, signal),
      signal,
    ).finally(() => listener.dispose());
  }

  private async hotkeysByUid(netuid: number): Promise<Map<number, string>> {
    return this.netuids.has(netuid) ? this.storage.hotkeysByUid(netuid) : new Map();
  }

  private tx(name: string, ...args: unknown[]): SubmittableExtrinsic<'promise'> {
    const call = this.api.tx['subtensorModule']?.[name];
    if (!call) throw new Error(`this runtime has no SubtensorModule.${name} call`);
    return call(...args);
  }

  private async head(): Promise<number> {
    return (await this.api.rpc.chain.getHeader()).number.toNumber();
  }

  private async waitForNewHead(after: number, signal: AbortSignal): Promise<void> {
    while ((await this.head()) <= after) await sleep(this.options.headPollMs ?? 500, undefined, { signal });
  }

  /** Waits (block by block) until `WeightsSetRateLimit` has passed since the validator's `LastUpdate`. */
  private async waitForRateLimit(
    netuid: number,
    uid: number,
    proposalId: string,
    signal: AbortSignal,
  ): Promise<void> {
    let logged = false;
    for (;;) {
      const [limit, lastUpdates, head] = await Promise.all([
        this.storage.weightsSetRateLimit(netuid),
        this.storage.lastUpdate(netuid),
        this.head(),
      ]);
      const last = lastUpdates[uid] ?? 0;
      const wait = blocksUntilAllowed(head, last, limit);
      if (wait === 0) return;
      if (!logged) {
        this.log.info(
          { proposalId, netuid, lastUpdate: last, head, blocksToWait: wait },
          'waiting for the weights rate limit',
        );
        logged = true;
      }
      await this.waitForNewHead(head, signal);
    }
  }

  /** Commit-reveal, first half: store the commit (with its salt), then commit its hash. */
  private async commit(
    proposal: Proposal,
    uids: number[],
    weights: number[],
    signal: AbortSignal,
    progress: Progress,
  ): Promise<{ commit: WeightCommit; committed: Inclusion }> {
    const salt = randomSalt();
    const hash = weightsCommitHash({
      hotkey: this.hotkey,
      netuid: proposal.netuid,
      uids,
      weights,
      salt,
      versionKey: proposal.versionKey,
    });
    const commit: WeightCommit = { hash, salt, uids, weights };
    await this.inbox.recordCommit(proposal.proposalId, commit);
    progress.commitStored = true;
    const committed = await this.sender.send(this.tx('commitWeights', proposal.netuid, hash), {
      signal,
      onSubmitted: () => {
        progress.sent = true;
      },
    });
    return { commit, committed };
  }

  /** Waits for the reveal epoch of a commit made at `commitBlock`, then reveals it. */
  private async revealWhenDue(
    proposal: Proposal,
    commit: WeightCommit,
    commitBlock: number,
    signal: AbortSignal,
  ): Promise<Inclusion> {
    const [tempo, period] = await Promise.all([
      this.storage.tempo(proposal.netuid),
      this.storage.revealPeriodEpochs(proposal.netuid),
    ]);
    const revealEpoch = subnetEpochs.revealEpochOf(commitBlock, proposal.netuid, tempo, period);
    this.log.info({ proposalId: proposal.proposalId, revealEpoch }, 'weights committed; waiting to reveal');
    for (
      let head = await this.head();
      !subnetEpochs.revealDueAfter(head, proposal.netuid, tempo, revealEpoch);
    ) {
      await this.waitForNewHead(head, signal);
      head = await this.head();
    }
    return this.sender.send(
      this.tx(
        'revealWeights',
        proposal.netuid,
        commit.uids,
        commit.weights,
        commit.salt,
        proposal.versionKey,
      ),
      { signal },
    );
  }

  private submitted(
    proposal: Proposal,
    target: { uids: number[]; weights: number[] },
    method: 'setWeights' | 'commitWeights',
    landed: Inclusion,
  ): PendingEvent {
    return WeightsSubmitted.create(
      {
        proposalId: proposal.proposalId,
        netuid: proposal.netuid,
        hotkey: this.hotkey,
        method,
        blockNumber: landed.blockNumber,
        blockHash: landed.blockHash,
        extrinsicHash: landed.extrinsicHash,
        uids: target.uids,
        weights: target.weights,
        versionKey: proposal.versionKey,
      },
      { id: derivedEventId(proposal.proposalId, WeightsSubmitted.type) },
    );
  }

  private failed(proposal: Proposal, reason: string, message: string, submitted: boolean): PendingEvent {
    return WeightsSubmissionFailed.create(
      { proposalId: proposal.proposalId, netuid: proposal.netuid, reason, message, submitted },
      { id: derivedEventId(proposal.proposalId, WeightsSubmissionFailed.type) },
    );
  }

  /** Publishes the outcome (once: deterministic id, expected empty aggregate), then records it. */
  private async finish(
    proposal: Proposal,
    status: 'submitted' | 'failed',
    reason: string | null,
    event: PendingEvent,
  ): Promise<void> {
    const streamId = streamIdOf('chain', 'weights', proposal.proposalId);
    try {
      await this.store.append(streamId, [event], { expected: NO_STREAM, correlationId: proposal.proposalId });
    } catch (err) {
      if (!isConcurrencyConflict(err)) throw err;
    }
    await this.inbox.finish(proposal.proposalId, status, reason);
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

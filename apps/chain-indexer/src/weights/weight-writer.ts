import { type ApiPromise } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { Codec } from '@polkadot/types/types';
import { u8aConcat } from '@polkadot/util';
import { blake2AsHex, decodeAddress } from '@polkadot/util-crypto';
import {
  Streams,
  WeightsProposed,
  WeightsSubmissionFailed,
  WeightsSubmitted,
  streamIdOf,
  type EventDataOf,
  type PendingEvent,
} from '@tessera/contracts';
import { isConcurrencyConflict, NO_STREAM, type EventStore, type Projection } from '@tessera/eventstore';
import { type DataSource, type EntityManager } from 'typeorm';
import { type ChainLog } from '../chain/chain-connection.js';
import { derivedEventId } from '../chain/event-id.js';
import { type Tables } from '../database/tables.js';
import { blocksUntilAllowed, planWeights } from './plan-weights.js';
import { WakeableSleep } from '../shared/wakeable-sleep.js';
import { type Lease } from '@tessera/platform/messaging';

type Proposal = EventDataOf<typeof WeightsProposed>;
type Query = (...args: unknown[]) => Promise<Codec>;

export interface WeightWriterOptions {
  netuids: readonly number[];
  /** Only the holder of this lease submits: one writer per validator key across replicas. */
  lease: Lease;
  maxAttempts: number;
  /** First retry delay for transient failures; doubles per attempt. */
  retryBaseMs?: number;
}

/** A refusal by the runtime: the decoded module error (`SettingWeightsTooFast`). */
export class DispatchError extends Error {
  override readonly name = 'DispatchError';
  constructor(
    readonly errorName: string,
    readonly section: string,
  ) {
    super(`${section}.${errorName}`);
  }
}

/** What a commit-reveal proposal committed; enough to reveal it later. */
interface WeightCommit {
  hash: string;
  salt: number[];
  uids: number[];
  weights: number[];
}

interface Landed {
  blockHash: string;
  blockNumber: number;
  extrinsicHash: string;
}

/** Errors worth another try: the pool refused (stale/future nonce, priority) or the connection dropped. */
function isTransient(err: unknown): boolean {
  if (err instanceof DispatchError) return err.errorName === 'SettingWeightsTooFast';
  const message = err instanceof Error ? err.message : String(err);
  return /1010|1014|stale|future|Priority|disconnected|WebSocket|timeout|No response/i.test(message);
}

/**
 * Submits the validator's weights. Proposals arrive through a projection of
 * `scoring.WeightsProposed` into `weight_proposals` (a durable inbox keyed by proposal id, so a
 * redelivered proposal is a no-op), and one loop works through them in order:
 *
 *   pending → submitting (committed before anything is sent) → submitted | failed
 *
 * A proposal leaves `pending` once, so it is sent at most once; a crash while `submitting`
 * leaves it there (logged at start, never resent) — except a commit-reveal proposal whose commit
 * is on chain: its salt was stored before the commit was sent, so the restarted writer reveals it.
 * Only the holder of the writer lease (NATS KV, ARCHITECTURE.md "singletons") submits, so several
 * replicas may run with the key and one of them writes (their nonces would collide otherwise).
 */
export class WeightWriter {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly idle = new WakeableSleep();
  private toReveal: { proposal: Proposal; commit: WeightCommit }[] = [];
  private nextNonce = -1;
  private readonly netuids: ReadonlySet<number>;

  constructor(
    private readonly api: ApiPromise,
    private readonly key: KeyringPair,
    private readonly store: EventStore,
    private readonly dataSource: DataSource,
    private readonly tables: Tables,
    private readonly log: ChainLog,
    private readonly options: WeightWriterOptions,
  ) {
    this.netuids = new Set(options.netuids);
  }

  get hotkey(): string {
    return this.key.address;
  }

  /** The inbox projection; the app registers it with the projection host. */
  projection(): Projection {
    return {
      name: 'chain-indexer-weight-proposals',
      stream: Streams.SCORING,
      handles: [WeightsProposed],
      apply: async (events, manager: EntityManager) => {
        for (const event of events) {
          if (!WeightsProposed.is(event)) continue;
          await manager.query(
            `insert into ${this.tables.weightProposals} (proposal_id, netuid, payload, status)
             values ($1, $2, $3, 'pending') on conflict (proposal_id) do nothing`,
            [event.data.proposalId, event.data.netuid, JSON.stringify(event.data)],
          );
        }
        // Woken after this call; the commit follows right away and the loop also polls.
        setTimeout(() => this.idle.wake(), 10);
      },
      reset: async () => {
        // The inbox is the at-most-once record: a rebuild must never make proposals pending again.
      },
    };
  }

  async start(): Promise<void> {
    if (this.running) return;
    const stuck = (await this.dataSource.query(
      `select proposal_id, payload, weight_commit from ${this.tables.weightProposals} where status = 'submitting'`,
    )) as { proposal_id: string; payload: Proposal; weight_commit: WeightCommit | null }[];
    this.toReveal = [];
    for (const row of stuck) {
      if (row.weight_commit) {
        this.toReveal.push({ proposal: row.payload, commit: row.weight_commit });
        continue;
      }
      this.log.warn(
        { proposalId: row.proposal_id },
        'proposal was being submitted when the writer stopped; outcome unknown, not resending',
      );
    }
    this.running = true;
    await this.options.lease.start();
    this.log.info(
      { hotkey: this.key.address, leaseHeld: this.options.lease.isHeld },
      'weight writer started',
    );
    this.loop = this.run();
  }

  /** Reveals commits a previous run made but did not reveal; before any new proposal, so nonces stay in order. */
  private async revealInterrupted(): Promise<void> {
    for (const { proposal, commit } of this.toReveal.splice(0)) {
      const entries = (await this.query('weightCommits')(proposal.netuid, this.key.address)).toJSON() as
        unknown[][] | null;
      const onChain = (entries ?? []).find((entry) => entry[0] === commit.hash);
      if (!onChain) {
        this.log.warn(
          { proposalId: proposal.proposalId },
          'interrupted commit is not on chain (never landed, or already revealed); outcome unknown, not resending',
        );
        continue;
      }
      this.log.info({ proposalId: proposal.proposalId }, 'revealing a commit made before the restart');
      try {
        const landed = await this.revealWhenDue(proposal, commit, Number(onChain[1]), () => undefined);
        await this.finish(proposal, 'submitted', null, [
          this.submitted(proposal, commit, 'commitWeights', landed),
        ]);
      } catch (err) {
        const reason = err instanceof DispatchError ? err.errorName : 'SubmissionError';
        await this.finish(proposal, 'failed', reason, [this.failed(proposal, reason, describe(err), true)]);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    this.idle.wake();
    await this.loop;
    await this.options.lease.release();
  }

  private async run(): Promise<void> {
    let waitingForLease = false;
    while (this.running) {
      try {
        if (!this.options.lease.isHeld) {
          if (!waitingForLease)
            this.log.info({}, 'another replica holds the weight writer lease; standing by');
          waitingForLease = true;
          await this.idle.sleep(1_000);
          continue;
        }
        waitingForLease = false;
        await this.revealInterrupted();
        const rows = (await this.dataSource.query(
          `select proposal_id, payload from ${this.tables.weightProposals}
            where status = 'pending' order by received_at, proposal_id limit 1`,
        )) as { proposal_id: string; payload: Proposal }[];
        const row = rows[0];
        if (!row) {
          await this.idle.sleep(2_000);
          continue;
        }
        const claimed = (await this.dataSource.query(
          `with claimed as (update ${this.tables.weightProposals} set status = 'submitting', updated_at = now()
             where proposal_id = $1 and status = 'pending' returning 1) select count(*)::int as n from claimed`,
          [row.proposal_id],
        )) as { n: number }[];
        if (claimed[0]?.n !== 1) continue;
        await this.process(row.payload);
      } catch (err) {
        this.log.error({ err }, 'weight writer loop failed; retrying');
        await this.idle.sleep(1_000);
      }
    }
  }

  private query(item: string): Query {
    const query = this.api.query['subtensorModule']?.[item];
    if (!query) throw new Error(`this runtime has no SubtensorModule.${item}`);
    return query as unknown as Query;
  }

  private async process(proposal: Proposal): Promise<void> {
    const hotkeyByUid = new Map<number, string>();
    if (this.netuids.has(proposal.netuid)) {
      const entries = await (
        this.query('keys') as unknown as { entries(n: number): Promise<[{ args: Codec[] }, Codec][]> }
      ).entries(proposal.netuid);
      for (const [key, value] of entries) hotkeyByUid.set(Number(key.args[1]!.toString()), value.toString());
    }
    const plan = planWeights(proposal, this.netuids, hotkeyByUid);
    if (!plan.ok) {
      this.log.warn({ proposalId: proposal.proposalId, reason: plan.reason }, 'weights proposal refused');
      await this.finish(proposal, 'failed', plan.reason, [
        this.failed(proposal, plan.reason, plan.message, false),
      ]);
      return;
    }
    if (plan.dropped.length > 0) {
      this.log.info(
        { proposalId: proposal.proposalId, dropped: plan.dropped },
        'dropped deregistered targets',
      );
    }
    const ownUid = await this.query('uids')(proposal.netuid, this.key.address);
    if ((ownUid as unknown as { isNone: boolean }).isNone) {
      const message = `validator hotkey ${this.key.address} is not registered on netuid ${proposal.netuid}`;
      await this.finish(proposal, 'failed', 'ValidatorNotRegistered', [
        this.failed(proposal, 'ValidatorNotRegistered', message, false),
      ]);
      return;
    }
    const validatorUid = Number(ownUid.toString());
    const commitReveal =
      (await this.query('commitRevealWeightsEnabled')(proposal.netuid)).toString() === 'true';

    let attempt = 0;
    let sent = false;
    for (;;) {
      attempt += 1;
      try {
        await this.waitForRateLimit(proposal.netuid, validatorUid, proposal.proposalId);
        const landed = commitReveal
          ? await this.commitAndReveal(proposal, plan.uids, plan.weights, () => (sent = true))
          : await this.send(
              this.api.tx['subtensorModule']!['setWeights']!(
                proposal.netuid,
                plan.uids,
                plan.weights,
                proposal.versionKey,
              ),
              () => (sent = true),
            );
        const submitted = this.submitted(
          proposal,
          plan,
          commitReveal ? 'commitWeights' : 'setWeights',
          landed,
        );
        this.log.info(
          { proposalId: proposal.proposalId, block: landed.blockNumber, targets: plan.uids.length },
          'weights submitted',
        );
        await this.finish(proposal, 'submitted', null, [submitted]);
        return;
      } catch (err) {
        const transient = isTransient(err);
        if (transient && attempt < this.options.maxAttempts) {
          const delay = (this.options.retryBaseMs ?? 500) * 2 ** (attempt - 1);
          this.log.warn(
            { proposalId: proposal.proposalId, attempt, retryInMs: delay, reason: describe(err) },
            'weights submission failed; retrying',
          );
          this.nextNonce = -1;
          await new Promise((resolve) => setTimeout(resolve, delay));
          continue;
        }
        const reason = err instanceof DispatchError ? err.errorName : 'SubmissionError';
        this.log.warn({ proposalId: proposal.proposalId, reason, attempt }, 'weights submission failed');
        await this.finish(proposal, 'failed', reason, [this.failed(proposal, reason, describe(err), sent)]);
        return;
      }
    }
  }

  private submitted(
    proposal: Proposal,
    target: { uids: number[]; weights: number[] },
    method: 'setWeights' | 'commitWeights',
    landed: Landed,
  ): PendingEvent {
    return WeightsSubmitted.create(
      {
        proposalId: proposal.proposalId,
        netuid: proposal.netuid,
        hotkey: this.key.address,
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
    events: PendingEvent[],
  ): Promise<void> {
    const streamId = streamIdOf('chain', 'weights', proposal.proposalId);
    try {
      await this.store.append(streamId, events, { expected: NO_STREAM, correlationId: proposal.proposalId });
    } catch (err) {
      if (!isConcurrencyConflict(err)) throw err;
    }
    await this.dataSource.query(
      `update ${this.tables.weightProposals} set status = $2, reason = $3, updated_at = now() where proposal_id = $1`,
      [proposal.proposalId, status, reason],
    );
  }

  private async head(): Promise<number> {
    return (await this.api.rpc.chain.getHeader()).number.toNumber();
  }

  /** Waits (block by block) until `WeightsSetRateLimit` has passed since the validator's `LastUpdate`. */
  private async waitForRateLimit(netuid: number, uid: number, proposalId: string): Promise<void> {
    let logged = false;
    for (;;) {
      const [limit, lastUpdates, head] = await Promise.all([
        this.query('weightsSetRateLimit')(netuid),
        this.query('lastUpdate')(netuid),
        this.head(),
      ]);
      const last = Number((lastUpdates.toJSON() as number[])[uid] ?? 0);
      const wait = blocksUntilAllowed(head, last, Number(limit.toString()));
      if (wait === 0) return;
      if (!logged) {
        this.log.info(
          { proposalId, netuid, lastUpdate: last, head, blocksToWait: wait },
          'waiting for the weights rate limit',
        );
        logged = true;
      }
      await this.waitForNewHead(head);
    }
  }

  private async waitForNewHead(after: number): Promise<void> {
    while ((await this.head()) <= after) await new Promise((resolve) => setTimeout(resolve, 500));
  }

  /**
   * Commit-reveal: store the commit, commit the hash, wait for the reveal epoch, reveal. The
   * reported block is the reveal's.
   */
  private async commitAndReveal(
    proposal: Proposal,
    uids: number[],
    weights: number[],
    onSent: () => void,
  ): Promise<Landed> {
    const salt = Array.from(crypto.getRandomValues(new Uint16Array(8)));
    const registry = this.api.registry;
    const encoded = u8aConcat(
      decodeAddress(this.key.address),
      registry.createType('u16', proposal.netuid).toU8a(),
      registry.createType('Vec<u16>', uids).toU8a(),
      registry.createType('Vec<u16>', weights).toU8a(),
      registry.createType('Vec<u16>', salt).toU8a(),
      registry.createType('u64', proposal.versionKey).toU8a(),
    );
    const commit: WeightCommit = { hash: blake2AsHex(encoded, 256), salt, uids, weights };
    // Stored before sending: without the salt, a commit that lands can never be revealed.
    await this.dataSource.query(
      `update ${this.tables.weightProposals} set weight_commit = $2 where proposal_id = $1`,
      [proposal.proposalId, JSON.stringify(commit)],
    );
    const committed = await this.send(
      this.api.tx['subtensorModule']!['commitWeights']!(proposal.netuid, commit.hash),
      onSent,
    );
    return this.revealWhenDue(proposal, commit, committed.blockNumber, onSent);
  }

  /** Waits for the reveal epoch of a commit made at `commitBlock`, then reveals it. */
  private async revealWhenDue(
    proposal: Proposal,
    commit: WeightCommit,
    commitBlock: number,
    onSent: () => void,
  ): Promise<Landed> {
    const [tempoCodec, periodCodec] = await Promise.all([
      this.query('tempo')(proposal.netuid),
      this.query('revealPeriodEpochs')(proposal.netuid),
    ]);
    const tempo = Number(tempoCodec.toString());
    const period = Number(periodCodec.toString());
    const epochOf = (block: number): number => Math.floor((block + proposal.netuid + 1) / (tempo + 1));
    const revealEpoch = epochOf(commitBlock) + period;
    this.log.info({ proposalId: proposal.proposalId, revealEpoch }, 'weights committed; waiting to reveal');
    for (let head = await this.head(); epochOf(head + 1) < revealEpoch; head = await this.head()) {
      await this.waitForNewHead(head);
    }
    return this.send(
      this.api.tx['subtensorModule']!['revealWeights']!(
        proposal.netuid,
        commit.uids,
        commit.weights,
        commit.salt,
        proposal.versionKey,
      ),
      onSent,
    );
  }

  /** Signs with an explicitly managed nonce and waits for inclusion; module errors become {@link DispatchError}. */
  private async send(tx: SubmittableExtrinsic<'promise'>, onSent: () => void): Promise<Landed> {
    const chainNonce = (await this.api.rpc.system.accountNextIndex(this.key.address)).toNumber();
    const nonce = Math.max(chainNonce, this.nextNonce);
    return new Promise<Landed>((resolve, reject) => {
      let unsubscribe: (() => void) | undefined;
      let settled = false;
      const settle = (fn: () => void): void => {
        if (settled) return;
        settled = true;
        unsubscribe?.();
        fn();
      };
      tx.signAndSend(this.key, { nonce }, (result) => {
        if (result.isError) {
          settle(() => reject(new Error(`extrinsic ${result.status.type}`)));
          return;
        }
        if (!result.status.isInBlock && !result.status.isFinalized) return;
        const blockHash = (
          result.status.isInBlock ? result.status.asInBlock : result.status.asFinalized
        ).toHex();
        settle(() => {
          this.nextNonce = nonce + 1;
          if (result.dispatchError) {
            if (result.dispatchError.isModule) {
              const meta = this.api.registry.findMetaError(result.dispatchError.asModule);
              reject(new DispatchError(meta.name, meta.section));
            } else {
              reject(new DispatchError(result.dispatchError.type, 'system'));
            }
            return;
          }
          void this.api.rpc.chain
            .getHeader(blockHash)
            .then(
              (header) =>
                resolve({ blockHash, blockNumber: header.number.toNumber(), extrinsicHash: tx.hash.toHex() }),
              reject,
            );
        });
      })
        .then((unsub) => {
          onSent();
          unsubscribe = unsub;
          if (settled) unsub();
        })
        .catch((err: unknown) => settle(() => reject(err instanceof Error ? err : new Error(String(err)))));
    });
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

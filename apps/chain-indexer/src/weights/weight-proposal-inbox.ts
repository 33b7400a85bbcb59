import { Streams, WeightsProposed, type EventDataOf } from '@tessera/contracts';
import { type Projection } from '@tessera/eventstore';
import { type DataSource, type EntityManager } from 'typeorm';
import { type Tables } from '../database/tables.js';

export type Proposal = EventDataOf<typeof WeightsProposed>;

/** What a commit-reveal proposal committed; enough to reveal it later. */
export interface WeightCommit {
  hash: string;
  salt: number[];
  uids: number[];
  weights: number[];
}

/** A proposal a previous run left in `submitting`, with its commit if it had stored one. */
export interface InterruptedProposal {
  proposal: Proposal;
  commit: WeightCommit | null;
}

/**
 * The durable inbox of `scoring.WeightsProposed` (`weight_proposals`, keyed by proposal id, so a
 * redelivered proposal is a no-op) and its state machine:
 *
 *   pending → submitting (committed before anything is sent) → submitted | failed
 *
 * A proposal leaves `pending` once, so it is sent at most once. One that was claimed but not
 * sent (the writer stopped first) goes back to `pending`.
 */
export class WeightProposalInbox {
  constructor(
    private readonly dataSource: DataSource,
    private readonly tables: Tables,
  ) {}

  /** The projection filling the inbox; `onProposal` runs after each batch (wakes the writer). */
  projection(onProposal: () => void): Projection {
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
        // Woken after this call; the commit follows right away and the writer also polls.
        setTimeout(onProposal, 10);
      },
      reset: async () => {
        // The inbox is the at-most-once record: a rebuild must never make proposals pending again.
      },
    };
  }

  /** Proposals a previous run was submitting when it stopped. */
  async interrupted(): Promise<InterruptedProposal[]> {
    const rows = (await this.dataSource.query(
      `select payload, weight_commit from ${this.tables.weightProposals} where status = 'submitting'
        order by received_at, proposal_id`,
    )) as { payload: Proposal; weight_commit: WeightCommit | null }[];
    return rows.map((row) => ({ proposal: row.payload, commit: row.weight_commit }));
  }

  /** Moves the oldest pending proposal to `submitting` and returns it; undefined when none is pending. */
  async claimNext(): Promise<Proposal | undefined> {
    // A CTE, so the driver returns plain rows for an UPDATE … RETURNING.
    const rows = (await this.dataSource.query(
      `with claimed as (
         update ${this.tables.weightProposals} set status = 'submitting', updated_at = now()
          where proposal_id = (select proposal_id from ${this.tables.weightProposals}
                                where status = 'pending' order by received_at, proposal_id limit 1
                                for update skip locked)
            and status = 'pending'
          returning payload)
       select payload from claimed`,
    )) as { payload: Proposal }[];
    return rows[0]?.payload;
  }

  /** Back to `pending`: claimed, but nothing was sent for it. */
  async release(proposalId: string): Promise<void> {
    await this.dataSource.query(
      `update ${this.tables.weightProposals} set status = 'pending', updated_at = now()
        where proposal_id = $1 and status = 'submitting' and weight_commit is null`,
      [proposalId],
    );
  }

  /** Stores the commit before it is sent: without the salt, a commit that lands can never be revealed. */
  async recordCommit(proposalId: string, commit: WeightCommit): Promise<void> {
    await this.dataSource.query(
      `update ${this.tables.weightProposals} set weight_commit = $2 where proposal_id = $1`,
      [proposalId, JSON.stringify(commit)],
    );
  }

  async finish(proposalId: string, status: 'submitted' | 'failed', reason: string | null): Promise<void> {
    await this.dataSource.query(
      `update ${this.tables.weightProposals} set status = $2, reason = $3, updated_at = now() where proposal_id = $1`,
      [proposalId, status, reason],
    );
  }
}

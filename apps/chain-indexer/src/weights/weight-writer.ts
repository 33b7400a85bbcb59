import { type Lease } from '@tessera/platform/messaging';
import { type Logger } from 'pino';
import { WakeableSleep } from '../shared/wakeable-sleep.js';
import { type WeightProposalInbox } from './weight-proposal-inbox.js';
import { type WeightSubmitter } from './weight-submitter.js';

export interface WeightWriterOptions {
  /** Only the holder of this lease submits: one writer per validator key across replicas. */
  lease: Lease;
  /** How long to sleep when the inbox is empty (a new proposal wakes it earlier). */
  idlePollMs?: number;
}

/**
 * The validator's weight-writing loop: while it holds the writer lease (NATS KV,
 * ARCHITECTURE.md "singletons"; replicas with the same key would collide on nonces), it first
 * reveals commits a previous run left unrevealed, then works the inbox oldest first, one
 * proposal at a time. `stop()` aborts every wait at once (rate limit, reveal epoch, inclusion),
 * so shutdown never waits for the chain; what was in progress is resumed by the next run.
 */
export class WeightWriter {
  private running = false;
  private loop: Promise<void> | undefined;
  private stopping = new AbortController();
  private readonly idle = new WakeableSleep();

  constructor(
    private readonly inbox: WeightProposalInbox,
    private readonly submitter: WeightSubmitter,
    private readonly log: Logger,
    private readonly options: WeightWriterOptions,
  ) {}

  /** Ends the idle wait early: a proposal arrived. */
  wake(): void {
    this.idle.wake();
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.stopping = new AbortController();
    await this.options.lease.start();
    this.log.info({ leaseHeld: this.options.lease.isHeld }, 'weight writer started');
    this.loop = this.run(this.stopping.signal);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort(new Error('weight writer stopping'));
    this.idle.wake();
    await this.loop;
    await this.options.lease.release();
  }

  private async run(signal: AbortSignal): Promise<void> {
    let waitingForLease = false;
    let resumed = false;
    while (!signal.aborted) {
      try {
        if (!this.options.lease.isHeld) {
          if (!waitingForLease)
            this.log.info({}, 'another replica holds the weight writer lease; standing by');
          waitingForLease = true;
          await this.idle.sleep(1_000);
          continue;
        }
        waitingForLease = false;
        // Before any new proposal, so this validator's nonces stay in order.
        if (!resumed) {
          await this.resumeInterrupted(signal);
          resumed = true;
        }
        const proposal = await this.inbox.claimNext();
        if (!proposal) {
          await this.idle.sleep(this.options.idlePollMs ?? 2_000);
          continue;
        }
        if ((await this.submitter.submit(proposal, signal)) === 'deferred') await this.idle.sleep(1_000);
      } catch (err) {
        if (signal.aborted) break;
        this.log.error({ err }, 'weight writer loop failed; retrying');
        await this.idle.sleep(1_000);
      }
    }
  }

  private async resumeInterrupted(signal: AbortSignal): Promise<void> {
    for (const { proposal, commit } of await this.inbox.interrupted()) {
      if (signal.aborted) return;
      if (commit) {
        await this.submitter.revealInterrupted(proposal, commit, signal);
      } else {
        this.log.warn(
          { proposalId: proposal.proposalId },
          'proposal was being submitted when the writer stopped; outcome unknown, not resending',
        );
      }
    }
  }
}

import { type ApiPromise } from '@polkadot/api';
import { MetagraphSynced, type PendingEvent } from '@tessera/contracts';
import { type EventStore } from '@tessera/eventstore';
import { type DataSource } from 'typeorm';
import { derivedEventId } from '../chain/event-id.js';
import { BlockFactBuilder } from '../chain-events/block-facts.js';
import { BlockPublisher } from '../chain-events/block-publisher.js';
import { netuidsTouched, selectFacts } from '../chain-events/select-facts.js';
import { subnetEpochs } from '@tessera/bittensor';
import { type Tables } from '../database/tables.js';
import { MetagraphReader, type MetagraphSnapshot } from '../metagraph/metagraph-reader.js';
import { MetagraphStore } from '../metagraph/metagraph-store.js';
import { BlockSource, type FetchedBlock } from './block-source.js';
import { WakeableSleep } from '../shared/wakeable-sleep.js';
import { ContinuityError, isContinuityError } from '../shared/indexer-errors.js';
import { retryUntilStopped } from '../shared/stoppable-retry.js';
import { type Logger } from 'pino';

/** Addresses to report transfers to; kept current by the watched-addresses projection. */
export interface AddressWatch {
  isWatched(address: string): boolean;
  catchUp(): Promise<void>;
}

export interface FollowerOptions {
  /** First block on the very first start; default the finalized head then. */
  startBlock?: number | undefined;
  /** Subnets with a metagraph (and whose subnet-level events are indexed); empty = events of all, no metagraph. */
  netuids: readonly number[];
  prefetch: number;
  commitBatch: number;
  ss58Format: number;
  /**
   * Called inside the commit's transaction after the block rows are written and before the
   * cursor moves (crash tests kill the process here: rows and cursor must land together).
   */
  beforeCursorMove?: (lastHeight: number) => Promise<void> | void;
}

export interface FollowerDeps {
  api: ApiPromise;
  store: EventStore;
  dataSource: DataSource;
  tables: Tables;
  watch: AddressWatch;
  log: Logger;
  /** Where blocks come from; a `BlockSource` over `api` unless given (fault tests serve a wrong block). */
  source?: BlockSource;
}

/** The cursor: the last block whose facts are published and whose rows are committed. */
export interface Cursor {
  readonly height: number;
  readonly hash: string;
}

/** What the gap check found. */
export interface ContinuityReport {
  startHeight: number;
  cursorHeight: number;
  indexedBlocks: number;
  /** Heights whose parent is not the row before (a skipped block or a foreign chain). */
  breaks: number[];
  ok: boolean;
}

interface ProcessedBlock {
  block: FetchedBlock;
  facts: number;
  syncs: MetagraphSnapshot[];
}

/**
 * Follows finalized blocks from the cursor: for each block, derive its facts, publish them
 * (idempotently, see `BlockPublisher`), then commit cursor, block row and metagraph rows in one
 * Postgres transaction. A crash anywhere replays from the committed cursor; the parent-hash
 * check on every block and the `indexed_blocks` chain prove nothing was skipped.
 */
export class Follower {
  private readonly source: BlockSource;
  private readonly builder: BlockFactBuilder;
  private readonly publisher: BlockPublisher;
  private readonly reader: MetagraphReader;
  readonly metagraphs: MetagraphStore;
  private readonly netuids: ReadonlySet<number> | null;
  private cursor: Cursor | undefined;
  private tempos = new Map<number, number>();
  private running = false;
  private loop: Promise<void> | undefined;
  private lastFailureMessage: string | undefined = 'not started';
  private lastFailure: unknown;
  private readonly stopping = new AbortController();
  private readonly idle = new WakeableSleep();
  private unsubscribeHeads: (() => void) | undefined;
  private readonly cursorListeners = new Set<(cursor: Cursor) => void>();

  constructor(
    private readonly deps: FollowerDeps,
    private readonly options: FollowerOptions,
  ) {
    this.source = deps.source ?? new BlockSource(deps.api);
    this.builder = new BlockFactBuilder(deps.api);
    this.publisher = new BlockPublisher(deps.store);
    this.reader = new MetagraphReader(options.ss58Format);
    this.metagraphs = new MetagraphStore(deps.tables);
    this.netuids = options.netuids.length > 0 ? new Set(options.netuids) : null;
  }

  get position(): Cursor | undefined {
    return this.cursor;
  }

  /** Readiness: following without error. */
  health(): { up: boolean; detail?: string } {
    return this.lastFailureMessage === undefined
      ? { up: true }
      : { up: false, detail: this.lastFailureMessage };
  }

  /** The failure of the last step, if it failed (cleared by the next step that works). */
  get lastError(): unknown {
    return this.lastFailure;
  }

  /** Called after each commit (tests and the weight writer's head tracking). */
  onCursor(listener: (cursor: Cursor) => void): () => void {
    this.cursorListeners.add(listener);
    return () => this.cursorListeners.delete(listener);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.unsubscribeHeads = await this.deps.api.rpc.chain
      .subscribeFinalizedHeads(() => this.idle.wake())
      .catch(() => undefined);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopping.abort(new Error('follower stopped'));
    this.idle.wake();
    this.unsubscribeHeads?.();
    await this.loop;
  }

  /** Walks `indexed_blocks`: one row per height from the start to the cursor, each the child of the one before. */
  async checkContinuity(): Promise<ContinuityReport> {
    const { cursor, indexedBlocks } = this.deps.tables;
    const [state] = (await this.deps.dataSource.query(
      `select height, start_height from ${cursor} where id = 'main'`,
    )) as { height: string; start_height: string }[];
    if (!state) return { startHeight: 0, cursorHeight: 0, indexedBlocks: 0, breaks: [], ok: true };
    const [count] = (await this.deps.dataSource.query(
      `select count(*)::bigint as n from ${indexedBlocks}`,
    )) as {
      n: string;
    }[];
    const breaks = (await this.deps.dataSource.query(
      `select height from (
         select height, parent_hash, lag(hash) over (order by height) as previous_hash,
                lag(height) over (order by height) as previous_height
           from ${indexedBlocks}) links
        where previous_height is not null and (previous_height <> height - 1 or previous_hash <> parent_hash)
        order by height limit 100`,
    )) as { height: string }[];
    const startHeight = Number(state.start_height);
    const cursorHeight = Number(state.height);
    const indexed = Number(count?.n ?? 0);
    return {
      startHeight,
      cursorHeight,
      indexedBlocks: indexed,
      breaks: breaks.map((row) => Number(row.height)),
      ok: breaks.length === 0 && indexed === Math.max(0, cursorHeight - startHeight + 1),
    };
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await retryUntilStopped(() => this.step(), this.stopping.signal, {
          initialDelayMs: 250,
          maxDelayMs: 30_000,
          onRetry: (err, attempt, delayMs) => {
            this.lastFailure = err;
            this.lastFailureMessage = err instanceof Error ? err.message : String(err);
            // The cursor in Postgres is the truth: drop in-memory state and replay from it.
            this.cursor = undefined;
            if (isContinuityError(err)) this.deps.log.error({ err }, 'chain continuity broken');
            this.deps.log.warn(
              { err, failures: attempt, retryInMs: Math.round(delayMs) },
              'follower step failed; resuming from the cursor',
            );
          },
        });
      } catch (err) {
        if (!this.running) return;
        throw err;
      }
    }
  }

  private async loadState(): Promise<Cursor> {
    const { cursor: table } = this.deps.tables;
    const read = async (): Promise<Cursor | undefined> => {
      const rows = (await this.deps.dataSource.query(
        `select height, hash from ${table} where id = 'main'`,
      )) as {
        height: string;
        hash: string;
      }[];
      const row = rows[0];
      return row ? { height: Number(row.height), hash: row.hash } : undefined;
    };
    let cursor = await read();
    if (!cursor) {
      const start = Math.max(1, this.options.startBlock ?? (await this.source.finalizedHeight()).number);
      const parentHash = await this.source.hashAt(start - 1);
      await this.deps.dataSource.query(
        `insert into ${table} (id, height, hash, start_height) values ('main', $1, $2, $3) on conflict (id) do nothing`,
        [start - 1, parentHash, start],
      );
      this.deps.log.info({ startBlock: start }, 'first start: indexing from this block');
      cursor = await read();
      if (!cursor) throw new Error('cursor row missing right after insert');
    }
    this.tempos = await this.metagraphs.tempos(this.deps.dataSource);
    this.cursor = cursor;
    return cursor;
  }

  private async step(): Promise<void> {
    const cursor = this.cursor ?? (await this.loadState());
    const head = await this.source.finalizedHeight();
    this.lastFailure = undefined;
    this.lastFailureMessage = undefined;
    if (head.number <= cursor.height) {
      await this.idle.sleep(1_000);
      return;
    }
    await this.deps.watch.catchUp();
    let expectedParent = cursor.hash;
    let batch: ProcessedBlock[] = [];
    for await (const block of this.source.range(cursor.height + 1, head.number, this.options.prefetch)) {
      if (block.parentHash !== expectedParent) {
        throw new ContinuityError(
          `block ${block.number} (${block.hash}) has parent ${block.parentHash}, expected ${expectedParent}`,
          block.number,
          { hash: block.hash, parentHash: block.parentHash, expectedParent },
        );
      }
      batch.push(await this.index(block));
      expectedParent = block.hash;
      if (batch.length >= this.options.commitBatch || block.number === head.number || !this.running) {
        await this.commit(batch);
        batch = [];
      }
      if (!this.running) return;
    }
  }

  /** Derives and publishes one block's facts; the commit comes after. */
  private async index(block: FetchedBlock): Promise<ProcessedBlock> {
    const facts = selectFacts(block.events, {
      isWatched: (a) => this.deps.watch.isWatched(a),
      netuids: this.netuids,
    });
    const events: PendingEvent[] = await this.builder.build(block, facts);
    const touched = netuidsTouched(facts);
    const syncs: MetagraphSnapshot[] = [];
    for (const netuid of this.options.netuids) {
      const tempo = this.tempos.get(netuid);
      const due =
        tempo === undefined || touched.has(netuid) || subnetEpochs.runsIn(block.number, netuid, tempo);
      if (!due) continue;
      const snapshot = await this.reader.read(block.at, block, netuid);
      syncs.push(snapshot);
      this.tempos.set(netuid, snapshot.tempo);
      events.push(
        MetagraphSynced.create(snapshot.metagraph, {
          id: derivedEventId(block.hash, 'metagraph', netuid, MetagraphSynced.type),
        }),
      );
    }
    await this.publisher.publish(block.number, block.hash, events);
    return { block, facts: events.length, syncs };
  }

  private async commit(batch: readonly ProcessedBlock[]): Promise<void> {
    const first = batch[0];
    const last = batch.at(-1);
    if (!first || !last) return;
    const { cursor: cursorTable, indexedBlocks } = this.deps.tables;
    await this.deps.dataSource.transaction(async (manager) => {
      // Locks the cursor row and checks it is where this batch starts: another indexer that
      // moved it first wins, and this transaction writes nothing.
      const [position] = (await manager.query(
        `select height, hash from ${cursorTable} where id = 'main' for update`,
      )) as { height: string; hash: string }[];
      if (Number(position?.height) !== first.block.number - 1 || position?.hash !== first.block.parentHash) {
        throw new ContinuityError(
          `cursor is not at block ${first.block.number - 1} (${first.block.parentHash}): another indexer moved it`,
          first.block.number,
        );
      }
      const params: unknown[] = [];
      const rows = batch.map(({ block, facts }) => {
        params.push(block.number, block.hash, block.parentHash, facts);
        const n = params.length;
        return `($${n - 3}, $${n - 2}, $${n - 1}, $${n})`;
      });
      await manager.query(
        `insert into ${indexedBlocks} (height, hash, parent_hash, facts) values ${rows.join(', ')}`,
        params,
      );
      for (const { syncs } of batch) {
        for (const sync of syncs) await this.metagraphs.write(manager, sync.metagraph, sync.tempo);
      }
      await this.options.beforeCursorMove?.(last.block.number);
      await manager.query(
        `update ${cursorTable} set height = $1, hash = $2, updated_at = now() where id = 'main'`,
        [last.block.number, last.block.hash],
      );
    });
    this.cursor = { height: last.block.number, hash: last.block.hash };
    for (const listener of this.cursorListeners) listener(this.cursor);
  }
}

import { BillingErrorCode, ChargeGpuUsage, isTesseraError, type Clock } from '@tessera/contracts';
import { classifyFailure } from '@tessera/eventstore';
import { type RpcClient } from '@tessera/platform/messaging';
import { type Logger } from 'pino';
import { type DataSource } from 'typeorm';
import { type SchedulerTables } from '../database/tables.js';
import { type CatalogState } from '../deployments/deployment-catalog.decider.js';

/** One charging interval of an instance: its index and the whole seconds it covers. */
export interface ChargeInterval {
  index: number;
  seconds: number;
}

/**
 * The intervals of an instance's billable period that are complete: `[readyAt, end)` cut at
 * `readyAt + k·intervalMs`. While it is ready (`endAt` null) only intervals that ended by `now`
 * count; once it stopped, the last partial one counts too. Seconds are counted as whole seconds
 * since `readyAt`, so the intervals of an instance add up to exactly ⌊(end − readyAt) / 1 s⌋.
 */
export function completeIntervals(
  readyAtMs: number,
  endAtMs: number | null,
  nowMs: number,
  intervalMs: number,
): ChargeInterval[] {
  const wholeSeconds = (t: number): number => Math.floor((t - readyAtMs) / 1_000);
  const intervals: ChargeInterval[] = [];
  const count =
    endAtMs === null
      ? Math.max(0, Math.floor((nowMs - readyAtMs) / intervalMs))
      : Math.max(0, Math.ceil((endAtMs - readyAtMs) / intervalMs));
  for (let index = 0; index < count; index++) {
    const start = readyAtMs + index * intervalMs;
    const end = Math.min(start + intervalMs, endAtMs ?? Number.POSITIVE_INFINITY);
    intervals.push({ index, seconds: wholeSeconds(end) - wholeSeconds(start) });
  }
  return intervals;
}

/** The billable period of an instance as the live scheduler knows it (authoritative over the projection). */
export interface KnownBillablePeriod {
  readyAt: string | null;
  /** When it stopped being ready (drained, failed, lost); null while it is. */
  endAt: string | null;
}

interface BillingRow {
  instance_id: string;
  deployment_id: string;
  account_id: string;
  gpu_type: string;
  gpu_count: number;
  charged_intervals: number;
  ready_at: Date | null;
  end_at: Date | null;
}

/**
 * Charges private deployments for the GPU-seconds their instances were ready, through billing's
 * `chargeGpuUsage`, once per instance per interval: the charge id is `gpu-<instanceId>-<index>`,
 * so a charge retried after a crash is one charge. Progress per instance lives in
 * `scheduler_gpu_billing`; an instance is done (`final`) once its last interval is charged.
 * Public deployments are charged per token by the inference proxy: their intervals are skipped.
 */
export class GpuCharger {
  constructor(
    private readonly dataSource: DataSource,
    private readonly tables: SchedulerTables,
    private readonly rpc: RpcClient,
    private readonly clock: Clock,
    private readonly options: { intervalMs: number },
    private readonly logger: Logger,
  ) {}

  /** Starts tracking instances that became ready (idempotent). */
  async track(
    instances: readonly { instanceId: string; deploymentId: string; accountId: string; gpuType: string }[],
  ): Promise<void> {
    if (instances.length === 0) return;
    await this.dataSource.query(
      `insert into ${this.tables.gpuBilling}
         (instance_id, deployment_id, account_id, gpu_type, charged_intervals, charged_gpu_seconds,
          refused_gpu_seconds, final, updated_at)
       select r.instance_id, r.deployment_id, r.account_id, r.gpu_type, 0, 0, 0, false, now()
         from jsonb_to_recordset($1::jsonb) as r(instance_id text, deployment_id text, account_id text, gpu_type text)
       on conflict (instance_id) do nothing`,
      [
        JSON.stringify(
          instances.map((instance) => ({
            instance_id: instance.instanceId,
            deployment_id: instance.deploymentId,
            account_id: instance.accountId,
            gpu_type: instance.gpuType,
          })),
        ),
      ],
    );
  }

  /**
   * Tracks every instance the projection shows ready without a billing row: run when this
   * scheduler takes over, for instances that became ready just before a crash.
   */
  async adoptUntracked(catalog: CatalogState): Promise<void> {
    const rows = (await this.dataSource.query(
      `select i.instance_id, i.deployment_id, i.gpu_type from ${this.tables.instances} i
        where i.ready_at is not null
          and not exists (select 1 from ${this.tables.gpuBilling} b where b.instance_id = i.instance_id)`,
    )) as { instance_id: string; deployment_id: string; gpu_type: string }[];
    await this.track(
      rows.flatMap((row) => {
        const deployment = catalog.deployments.get(row.deployment_id);
        return deployment
          ? [
              {
                instanceId: row.instance_id,
                deploymentId: row.deployment_id,
                accountId: deployment.spec.ownerAccountId,
                gpuType: row.gpu_type,
              },
            ]
          : [];
      }),
    );
  }

  /**
   * Charges every complete interval not charged yet. `known` gives the live view of instances
   * this scheduler runs (the projection may lag it); an instance neither known nor ended in the
   * projection waits for the next pass.
   */
  async charge(catalog: CatalogState, known: ReadonlyMap<string, KnownBillablePeriod>): Promise<void> {
    const rows = (await this.dataSource.query(
      `select b.instance_id, b.deployment_id, b.account_id, b.gpu_type, b.charged_intervals, i.gpu_count, i.ready_at,
              coalesce(i.draining_at, i.ended_at) as end_at
         from ${this.tables.gpuBilling} b join ${this.tables.instances} i on i.instance_id = b.instance_id
        where not b.final`,
    )) as BillingRow[];
    const now = this.clock.now().getTime();
    for (const row of rows) {
      const live = known.get(row.instance_id);
      const readyAt = live?.readyAt ?? row.ready_at?.toISOString() ?? null;
      if (readyAt === null) continue;
      const endAt = live ? live.endAt : (row.end_at?.toISOString() ?? undefined);
      // Not run by this scheduler and not ended in the projection yet: the projection is behind.
      if (endAt === undefined) continue;
      const intervals = completeIntervals(
        Date.parse(readyAt),
        endAt === null ? null : Date.parse(endAt),
        now,
        this.options.intervalMs,
      );
      const privateDeployment = catalog.deployments.get(row.deployment_id)?.spec.visibility === 'private';
      const outcome = await this.chargeIntervals(
        row,
        intervals.slice(row.charged_intervals),
        privateDeployment,
      );
      if (outcome === 'transient') return;
      if (outcome === 'done' && endAt !== null) {
        await this.dataSource.query(
          `update ${this.tables.gpuBilling} set final = true, updated_at = now() where instance_id = $1`,
          [row.instance_id],
        );
      }
    }
  }

  /** Charges intervals in order; stops at the first that cannot be charged now. */
  private async chargeIntervals(
    row: BillingRow,
    intervals: readonly ChargeInterval[],
    privateDeployment: boolean,
  ): Promise<'done' | 'held' | 'transient'> {
    for (const interval of intervals) {
      const gpuSeconds = interval.seconds * row.gpu_count;
      let charged = 0;
      let refused = 0;
      let lastError: string | null = null;
      if (privateDeployment && gpuSeconds > 0) {
        try {
          await this.rpc.call(ChargeGpuUsage, {
            accountId: row.account_id,
            chargeId: `gpu-${row.instance_id}-${interval.index}`,
            product: 'deployment',
            gpuType: row.gpu_type,
            gpuSeconds,
          });
          charged = gpuSeconds;
        } catch (err) {
          if (classifyFailure(err) === 'transient') {
            this.logger.warn(
              { err, instanceId: row.instance_id },
              'GPU charge not sent; retrying on the next pass',
            );
            return 'transient';
          }
          if (isTesseraError(err, BillingErrorCode.UnknownPrice)) {
            // The operator has to set a price for this GPU type; the interval waits for it.
            await this.note(row.instance_id, err.message);
            this.logger.warn(
              { gpuType: row.gpu_type, instanceId: row.instance_id },
              'no deployment price for this GPU type',
            );
            return 'held';
          }
          // A refusal (insufficient funds, closed account, …) is final for this interval: recorded, not retried.
          refused = gpuSeconds;
          lastError = err instanceof Error ? err.message : String(err);
          this.logger.warn(
            { err, instanceId: row.instance_id, accountId: row.account_id },
            'GPU charge refused',
          );
        }
      }
      await this.dataSource.query(
        `update ${this.tables.gpuBilling}
            set charged_intervals = $2, charged_gpu_seconds = charged_gpu_seconds + $3,
                refused_gpu_seconds = refused_gpu_seconds + $4, last_error = coalesce($5, last_error), updated_at = now()
          where instance_id = $1 and charged_intervals = $2 - 1`,
        [row.instance_id, interval.index + 1, charged, refused, lastError],
      );
    }
    return 'done';
  }

  private async note(instanceId: string, error: string): Promise<void> {
    await this.dataSource.query(
      `update ${this.tables.gpuBilling} set last_error = $2, updated_at = now() where instance_id = $1`,
      [instanceId, error],
    );
  }
}

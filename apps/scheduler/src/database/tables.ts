/**
 * The scheduler's tables, qualified by its schema, so raw SQL never depends on `search_path`
 * (a service's schema comes from `DATABASE_SCHEMA`).
 */
export interface SchedulerTables {
  readonly schema: string;
  /** Miners of the subnet, from chain events (projection `scheduler-miners`). */
  readonly miners: string;
  /** Instances, from the scheduler's own events (projection `scheduler-instances`). */
  readonly instances: string;
  /** Each miner's last polled state, written by the placement-lease holder for the operator view. */
  readonly minerStatus: string;
  /** How far each instance's GPU-seconds are charged. */
  readonly gpuBilling: string;
}

/** Table names in `schema` (a plain SQL identifier, checked by the platform config). */
export function schedulerTables(schema: string): SchedulerTables {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new RangeError(`bad schema name ${schema}`);
  const q = (table: string): string => `"${schema}"."${table}"`;
  return {
    schema,
    miners: q('scheduler_miners'),
    instances: q('scheduler_instances'),
    minerStatus: q('scheduler_miner_status'),
    gpuBilling: q('scheduler_gpu_billing'),
  };
}

import { Streams, UsageCharged, type Event } from '@tessera/contracts';
import { type Projection } from '@tessera/eventstore';
import { type EntityManager } from 'typeorm';

/** The usage read model's table (raw SQL names it through this). */
export const UsageTables = { daily: 'billing_usage_daily' } as const;

/**
 * Folds each batch of charges per (account, day, product, item) and adds the sums to the rows: a
 * folding projection, exact only if every charge is applied once — which the consumer runner
 * guarantees (each stream sequence once, in order, in the checkpoint's transaction).
 */
export const usageDailyProjection: Projection = {
  name: 'billing-usage-daily',
  stream: Streams.BILLING,
  filterSubject: 'billing.account.>',
  handles: [UsageCharged],
  async apply(events: readonly Event[], manager: EntityManager) {
    const sums = new Map<
      string,
      {
        a: string;
        d: string;
        p: string;
        i: string;
        n: number;
        pt: bigint;
        ct: bigint;
        g: bigint;
        amt: bigint;
      }
    >();
    for (const event of events) {
      if (!UsageCharged.is(event)) continue;
      const data = event.data;
      const key = `${data.accountId}\u0000${data.day}\u0000${data.product}\u0000${data.item}`;
      const sum = sums.get(key) ?? {
        a: data.accountId,
        d: data.day,
        p: data.product,
        i: data.item,
        n: 0,
        pt: 0n,
        ct: 0n,
        g: 0n,
        amt: 0n,
      };
      sum.n += 1;
      sum.pt += BigInt(data.promptTokens);
      sum.ct += BigInt(data.completionTokens);
      sum.g += BigInt(data.gpuSeconds);
      sum.amt += BigInt(data.amount);
      sums.set(key, sum);
    }
    if (sums.size === 0) return;
    const rows = [...sums.values()];
    await manager.query(
      `INSERT INTO ${UsageTables.daily}
         (account_id, day, product, item, requests, prompt_tokens, completion_tokens, gpu_seconds, amount)
       SELECT a, d::date, p, i, n, pt::numeric, ct::numeric, g::numeric, amt::numeric
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[], $9::text[])
           AS batch(a, d, p, i, n, pt, ct, g, amt)
       ON CONFLICT (account_id, day, product, item) DO UPDATE SET
         requests = ${UsageTables.daily}.requests + excluded.requests,
         prompt_tokens = ${UsageTables.daily}.prompt_tokens + excluded.prompt_tokens,
         completion_tokens = ${UsageTables.daily}.completion_tokens + excluded.completion_tokens,
         gpu_seconds = ${UsageTables.daily}.gpu_seconds + excluded.gpu_seconds,
         amount = ${UsageTables.daily}.amount + excluded.amount`,
      [
        rows.map((r) => r.a),
        rows.map((r) => r.d),
        rows.map((r) => r.p),
        rows.map((r) => r.i),
        rows.map((r) => r.n),
        rows.map((r) => r.pt.toString()),
        rows.map((r) => r.ct.toString()),
        rows.map((r) => r.g.toString()),
        rows.map((r) => r.amt.toString()),
      ],
    );
  },
  async reset(manager: EntityManager) {
    await manager.query(`DELETE FROM ${UsageTables.daily}`);
  },
};

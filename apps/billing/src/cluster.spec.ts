import { readFileSync, readdirSync } from 'node:fs';
import { type INestApplication } from '@nestjs/common';
import {
  CreditAccount,
  ErrorCode,
  GetAccount,
  GrantCredit,
  OpenAccount,
  RequestCompleted,
  SetModelPrice,
  SettleGrant,
  UsageCharged,
  isTesseraError,
  streamIdOf,
} from '@tessera/contracts';
import { type NatsConnection } from '@nats-io/transport-node';
import { HealthRegistry } from '@tessera/platform';
import { NATS_CONNECTION } from '@tessera/platform/messaging';
import { eventually, useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountStreamId } from './accounts/account.service.js';
import {
  assertReconciled,
  dataSourceOf,
  outside,
  readModelRows,
  readModelsBuiltAlone,
  startBilling,
  waitForIdle,
  type Outside,
} from './__tests__/billing-app.fixture.js';

const ACCOUNTS = ['c0', 'c1'];
/** 1,000 prompt tokens at $0.001/M + 1,000 completion tokens at $0.003/M. */
const PER_REQUEST = 4_000n;
/** Codes a caller may get while JetStream fails over: all retryable, none INTERNAL. */
// What the platform classes as transient (eventstore's failures.ts); NO_RESPONDERS is a server
// whose connection is re-subscribing after it moved to another node.
const RETRYABLE = new Set<string>([
  ErrorCode.Unavailable,
  ErrorCode.Timeout,
  ErrorCode.ConcurrencyExhausted,
  ErrorCode.NoResponders,
]);

describe('billing on a 3-node JetStream cluster (replicas 3)', () => {
  let env: TestEnvironment;
  let app: INestApplication;
  let ext: Outside;

  beforeAll(async () => {
    env = await useTestEnvironment({ natsCluster: 3 });
    ext = await outside(env, { streamReplicas: 3 });
    app = await startBilling(env, { extraEnv: { STREAM_REPLICAS: '3', CONSUMER_LEASE_TTL_MS: '3000' } });
    await ext.rpc.call(SetModelPrice, {
      model: 'm',
      inputNanoUsdPerMillion: '1000000',
      outputNanoUsdPerMillion: '3000000',
    });
    for (const accountId of ACCOUNTS) {
      await ext.rpc.call(OpenAccount, { accountId, name: accountId });
      await ext.rpc.call(CreditAccount, { accountId, idempotencyKey: 'seed', amount: '1000000000000' });
    }
  });

  afterAll(async () => {
    await ext?.close();
    await app?.close();
    await env?.cleanup();
  });

  it('kill -9 of the BILLING stream leader mid-load: callers see only retryable errors, and every read model equals the stream', async () => {
    const cluster = env.natsCluster;
    if (!cluster) throw new Error('no cluster');
    const failures = new Map<string, number>();
    const note = (err: unknown): void => {
      const code = isTesseraError(err) ? err.code : `not a TesseraError: ${String(err)}`;
      failures.set(code, (failures.get(code) ?? 0) + 1);
    };
    let running = true;
    let killedAt = 0;
    let firstGrantAfterKill = 0;
    let settled = 0n;
    const appended = new Set<string>();

    // Proxies: grant and settle over request/reply, retrying retryable answers with the same key.
    const proxy = async (lane: number): Promise<void> => {
      for (let i = 0; running; i += 1) {
        const accountId = ACCOUNTS[lane % ACCOUNTS.length] ?? 'c0';
        const startedAt = Date.now();
        try {
          const grant = await ext.rpc.call(GrantCredit, {
            accountId,
            holder: `p${lane}`,
            requested: '1000',
            idempotencyKey: `p${lane}-${i}`,
          });
          // The failover window: from the kill to the first grant asked for after it that succeeded.
          if (killedAt > 0 && startedAt >= killedAt && firstGrantAfterKill === 0)
            firstGrantAfterKill = Date.now();
          for (;;) {
            try {
              await ext.rpc.call(SettleGrant, {
                grantId: grant.grantId,
                holder: `p${lane}`,
                usage: [{ requestId: `p${lane}-u${i}`, amount: '1000' }],
              });
              settled += 1_000n;
              break;
            } catch (err) {
              note(err);
              if (!isTesseraError(err) || !RETRYABLE.has(err.code)) throw err;
            }
          }
        } catch (err) {
          note(err);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    };
    // The inference proxy: completed requests appended to INFERENCE, retried (same event id) until stored.
    const requests = async (): Promise<void> => {
      for (let i = 0; running; i += 1) {
        const requestId = `cl-${i}`;
        const event = RequestCompleted.create(
          {
            requestId,
            accountId: ACCOUNTS[i % ACCOUNTS.length] ?? 'c0',
            keyId: 'abcdefghij012345',
            model: 'm',
            promptTokens: 1_000,
            completionTokens: 1_000,
            streamed: false,
            grantId: null,
            minerHotkey: null,
            instanceId: null,
            latency: { firstTokenMs: null, totalMs: 5 },
            status: 'succeeded',
          },
          { id: `01900000-0000-7000-8000-${String(i).padStart(12, '0')}` },
        );
        for (;;) {
          try {
            await ext.store.append(streamIdOf('inference', 'request', requestId), [event], {
              expected: { sequence: 0, version: 0 },
            });
            appended.add(requestId);
            break;
          } catch (err) {
            // A retried append that landed already: the duplicate window makes it a no-op, or the
            // subject moved (it is there).
            if (isTesseraError(err, ErrorCode.ConcurrencyConflict)) {
              appended.add(requestId);
              break;
            }
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
      }
    };

    const load = Promise.all([proxy(0), proxy(1), proxy(2), requests()]);
    // Read often: the kill must land while the load is running.
    await eventually(async () => appended.size > 100 && settled > 50_000n, 'load under way', {
      intervalMs: 10,
    });
    const leader = await cluster.streamLeader(`${env.namespace}_BILLING`);
    killedAt = Date.now();
    await leader.kill();
    await eventually(async () => firstGrantAfterKill > 0, 'a grant after the failover', {
      timeoutMs: 60_000,
    });
    const failoverMs = firstGrantAfterKill - killedAt;
    await eventually(async () => appended.size > 300, 'more load after the failover', { timeoutMs: 60_000 });
    running = false;
    await load;
    console.log(
      `cluster failover: first grant ${failoverMs} ms after the leader's kill; caller failures ${JSON.stringify(Object.fromEntries(failures))}`,
    );
    for (const code of failures.keys()) expect(RETRYABLE.has(code), `${code} during failover`).toBe(true);

    await leader.restart();
    await waitForIdle(app, 120_000);
    // Events lost: 0 — every stored request charged exactly once.
    const charged = new Map<string, number>();
    for (const accountId of ACCOUNTS) {
      for (const event of (await ext.store.readStream(accountStreamId(accountId))).events) {
        if (UsageCharged.is(event) && event.data.requestId.startsWith('cl-'))
          charged.set(event.data.requestId, (charged.get(event.data.requestId) ?? 0) + 1);
      }
    }
    expect([...charged.values()].every((n) => n === 1)).toBe(true);
    expect([...charged.keys()].sort()).toEqual([...appended].sort());

    const rows = await readModelRows(dataSourceOf(app));
    expect(rows).toEqual(await readModelsBuiltAlone(env, ext.nc));
    const revenue = (rows['balances'] as { ledger_account: string; balance: string }[]).find(
      (row) => row.ledger_account === 'platform:revenue:inference',
    )?.balance;
    expect(revenue).toBe((BigInt(appended.size) * PER_REQUEST + settled).toString());
    await assertReconciled(ext.rpc);
  });

  it("reads of cached account state answer while that account's writes are stuck on a frozen stream leader", async () => {
    const cluster = env.natsCluster;
    if (!cluster) throw new Error('no cluster');
    await ext.rpc.call(GetAccount, { accountId: 'c0' }); // cached in billing
    // Freeze the leader only where neither billing's nor the test's connection is (a frozen node
    // would stall their core NATS too): move the leadership there first.
    const clientNodes = [
      ext.nc.info?.server_name,
      app.get<NatsConnection>(NATS_CONNECTION).info?.server_name,
    ];
    const streamName = `${env.namespace}_BILLING`;
    let leader = await cluster.streamLeader(streamName);
    for (let attempt = 0; clientNodes.includes(leader.serverName); attempt += 1) {
      if (attempt >= 20) throw new Error("the BILLING leader never moved off the clients' nodes");
      await ext.nc
        .request(`$JS.API.STREAM.LEADER.STEPDOWN.${streamName}`, '', { timeout: 10_000 })
        .catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 500));
      leader = await cluster.streamLeader(streamName);
    }
    const pid = natsServerPid(leader.port);
    process.kill(pid, 'SIGSTOP'); // frozen, not gone: appends wait for an ack that does not come
    try {
      let writeDone = false;
      const stuck = ext.rpc
        .call(
          GrantCredit,
          { accountId: 'c0', holder: 'p8', requested: '1000', idempotencyKey: 'frozen-1' },
          { timeoutMs: 60_000 },
        )
        .then(
          () => undefined,
          (err: unknown) => err,
        )
        .finally(() => {
          writeDone = true;
        });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(writeDone).toBe(false);
      const account = await ext.rpc.call(GetAccount, { accountId: 'c0' });
      expect(account.accountId).toBe('c0');
      expect(writeDone).toBe(false); // the read did not queue behind the account's stuck write
      process.kill(pid, 'SIGCONT');
      const outcome = await stuck;
      // The write either went through after the freeze or answered a retryable error.
      if (outcome !== undefined) expect(isTesseraError(outcome) && RETRYABLE.has(outcome.code)).toBe(true);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitForIdle(app, 120_000);
  });

  it('a JetStream write outage: ready turns false, writes answer UNAVAILABLE, the same request succeeds after', async () => {
    const cluster = env.natsCluster;
    if (!cluster) throw new Error('no cluster');
    const health = app.get(HealthRegistry);
    await eventually(async () => (await health.readiness()).ready, 'ready before the outage', {
      timeoutMs: 60_000,
    });

    // Two of three nodes down: no quorum, no JetStream writes; core NATS still carries requests.
    const survivor = cluster.nodes[0];
    const down = cluster.nodes.filter((node) => node !== survivor);
    await Promise.all(down.map((node) => node.kill()));
    try {
      // Another indicator (a stalled projection) may turn readiness off first: wait for JetStream's
      // own, and judge readiness on that same report (the survivor's view of its peers can still
      // change between two reports while the cluster notices they are gone).
      let report = await health.readiness();
      await eventually(
        async () => (report = await health.readiness()).indicators['jetstream']?.up === false,
        'the JetStream indicator down during the outage',
        { timeoutMs: 30_000 },
      );
      expect(report.ready).toBe(false);
      const request = { accountId: 'c1', holder: 'p9', requested: '1000', idempotencyKey: 'outage-1' };
      await expect(ext.rpc.call(GrantCredit, request, { timeoutMs: 60_000 })).rejects.toSatisfy(
        (err: unknown) => isTesseraError(err, ErrorCode.Unavailable),
      );
    } finally {
      await Promise.all(down.map((node) => node.restart()));
    }
    await eventually(async () => (await health.readiness()).ready, 'ready again after the outage', {
      timeoutMs: 60_000,
    });
    const request = { accountId: 'c1', holder: 'p9', requested: '1000', idempotencyKey: 'outage-1' };
    // Ready means the streams take writes again; a replica still catching up may answer a read
    // UNAVAILABLE for a moment more, and a caller retries that, as it would any retryable error.
    let granted: string | undefined;
    await eventually(
      async () => {
        granted = await ext.rpc.call(GrantCredit, request).then(
          (grant) => grant.granted,
          (err: unknown) => {
            if (isTesseraError(err) && RETRYABLE.has(err.code)) return undefined;
            throw err;
          },
        );
        return granted !== undefined;
      },
      'the same request granted after the outage',
      { timeoutMs: 60_000 },
    );
    expect(granted).toBe('1000');
    await waitForIdle(app, 120_000);
    await assertReconciled(ext.rpc);
  });
});

/** The pid of the local nats-server listening on `port` (its config file names the port). */
function natsServerPid(port: number): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const config = args[args.indexOf('-c') + 1];
    if (!args[0]?.endsWith('nats-server') || config === undefined) continue;
    if (readFileSync(config, 'utf8').includes(`:${port}"`)) return Number(entry);
  }
  throw new Error(`no nats-server process listens on ${port}`);
}

import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  AxonServed,
  MetagraphSynced,
  NeuronRegistered,
  StakeAdded,
  SubnetAdded,
  TransferObserved,
  WeightsSet,
  WeightsSubmissionFailed,
  WeightsSubmitted,
  DepositAddressAssigned,
  EventRegistry,
  GetMetagraph,
  GetNeuron,
  WeightsProposed,
  eventContracts,
  streamIdOf,
  type EventEnvelope,
} from '@tessera/contracts';
import { findFreePort } from '@tessera/devservers';
import { EventStore } from '@tessera/eventstore';
import { RpcClient } from '@tessera/platform/messaging';
import {
  eventually,
  startChain,
  useTestEnvironment,
  type ChainHarness,
  type TestEnvironment,
} from '@tessera/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readChainStream } from './__tests__/chain-stream.js';
import { startIndexer, type IndexerProcess } from './__tests__/indexer-process.js';
import { tcpProxy, type TcpProxy } from './__tests__/tcp-proxy.js';
import { chainEventId } from './chain/event-id.js';

const TAO = 1_000_000_000n;
const DOC_IPV4 = 3405803783n; // 203.0.113.7 (RFC 5737)
const DOC_IPV6 = 0x20010db8000000000000000000000001n; // 2001:db8::1 (RFC 3849)

// One chain, one indexer process (built dist/main.js) for the whole file: chopsticks builds a
// block in ~0.35 s, so scenarios share the subnet and run in order.
describe('chain indexer against the subtensor runtime', () => {
  let env: TestEnvironment;
  let chain: ChainHarness;
  let proxy: TcpProxy;
  let indexer: IndexerProcess;
  let indexerEnv: Record<string, string>;
  let nc: NatsConnection;
  let store: EventStore;
  let rpc: RpcClient;
  let db: pg.Client;
  let netuid: number;
  const uids: Record<string, number> = {};
  const account = (name: string) => chain.account(name);

  const chainEvents = (): Promise<EventEnvelope[]> => readChainStream(nc, env.namespace);
  /** Contracts are told apart with `Contract.is(event)`, never by comparing type strings. */
  type Contract = { type: string; is(event: { type: string; version: number }): boolean };
  const eventsOfType = async (contract: Contract): Promise<EventEnvelope[]> =>
    (await chainEvents()).filter((event) => contract.is(event));
  const waitForEvent = (
    contract: Contract,
    match: (data: Record<string, unknown>) => boolean,
    timeoutMs = 60_000,
  ) =>
    eventually(
      async () =>
        (await eventsOfType(contract)).find((event) => match(event.data as Record<string, unknown>)),
      `a ${contract.type}`,
      { timeoutMs: timeoutMs },
    );

  /** The runtime event the indexer says a fact came from, read independently from the chain. */
  async function runtimeEventAt(blockNumber: number, eventIndex: number) {
    const hash = await chain.api.rpc.chain.getBlockHash(blockNumber);
    const at = await chain.api.at(hash);
    const records = (await at.query['system']!['events']!()) as unknown as {
      event: { section: string; method: string; data: { toString(): string }[] };
    }[];
    const record = records[eventIndex]!;
    return {
      hash: hash.toHex(),
      name: `${record.event.section}.${record.event.method}`,
      args: record.event.data.map(String),
    };
  }

  async function expectDerivedFrom(event: EventEnvelope, runtimeName: string) {
    const data = event.data as { blockNumber: number; blockHash: string; eventIndex: number };
    const runtime = await runtimeEventAt(data.blockNumber, data.eventIndex);
    expect(runtime.hash).toBe(data.blockHash);
    expect(runtime.name).toBe(runtimeName);
    expect(event.id).toBe(chainEventId(data.blockHash, data.eventIndex, event.type));
    return runtime;
  }

  /** Commit-reveal on or off for the test subnet; on, with a one-epoch reveal period and no rate limit. */
  async function setCommitReveal(enabled: boolean) {
    await chain.setStorage({
      SubtensorModule: enabled
        ? {
            CommitRevealWeightsEnabled: [[[netuid], true]],
            RevealPeriodEpochs: [[[netuid], 1]],
            WeightsSetRateLimit: [[[netuid], 1]],
          }
        : { CommitRevealWeightsEnabled: [[[netuid], false]] },
    });
    if (enabled) await chain.newBlocks(2);
  }

  beforeAll(async () => {
    env = await useTestEnvironment();
    chain = await startChain();
    const owner = account('Owner');
    await chain.fund(owner.address, 1_000_000n * TAO);
    await chain.fund(account('Miner').address, 1_000_000n * TAO);
    netuid = await chain.registerSubnet(owner, account('Owner/hot'));
    uids['miner1'] = await chain.registerNeuron(netuid, account('Miner'), account('Miner1/hot'));
    uids['miner2'] = await chain.registerNeuron(netuid, account('Miner'), account('Miner2/hot'));
    uids['validator'] = await chain.registerNeuron(netuid, account('Miner'), account('Validator/hot'));

    nc = await connect({ servers: env.natsUrl });
    store = new EventStore({
      connection: nc,
      registry: new EventRegistry(eventContracts),
      namespace: env.namespace,
    });
    await store.ensureStreams();
    rpc = new RpcClient(nc, { subjectPrefix: env.namespace, defaultTimeoutMs: 5_000 });
    db = new pg.Client({ connectionString: env.databaseUrl });
    await db.connect();

    proxy = tcpProxy(await findFreePort(), Number(new URL(chain.endpoint).port));
    await proxy.open();
    indexerEnv = {
      NATS_URL: env.natsUrl,
      NATS_SUBJECT_PREFIX: env.namespace,
      DATABASE_URL: env.databaseUrl,
      DATABASE_SCHEMA: env.schema,
      CHAIN_ENDPOINT: `ws://127.0.0.1:${proxy.port}`,
      START_BLOCK: '1',
      NETUIDS: String(netuid),
      WATCH_ADDRESSES: account('Configured/deposit').address,
      VALIDATOR_SEED: '//Validator/hot',
    };
    indexer = await startIndexer(indexerEnv);
    await indexer.waitForLine(/following finalized blocks/);
  }, 180_000);

  afterAll(async () => {
    await indexer?.kill();
    await proxy?.close();
    await db?.end();
    await nc?.drain();
    await chain?.stop();
    await env?.cleanup();
  });

  it('backfills neuron registrations from START_BLOCK with ids derived from (block hash, event index)', async () => {
    const registered = await eventually(async () => {
      const events = await eventsOfType(NeuronRegistered);
      return events.length >= 3 ? events : undefined;
    }, 'three registrations indexed');
    const byUid = new Map(registered.map((event) => [(event.data as { uid: number }).uid, event]));
    expect([...byUid.keys()]).toEqual(
      expect.arrayContaining([uids['miner1'], uids['miner2'], uids['validator']]),
    );
    const miner1 = byUid.get(uids['miner1']!)!;
    expect(miner1.data).toMatchObject({
      netuid,
      uid: uids['miner1'],
      hotkey: account('Miner1/hot').address,
      coldkey: account('Miner').address,
    });
    expect(miner1.streamId).toBe(
      streamIdOf(
        'chain',
        'block',
        String((miner1.data as { blockNumber: number }).blockNumber).padStart(10, '0'),
      ),
    );
    const runtime = await expectDerivedFrom(miner1, 'subtensorModule.NeuronRegistered');
    expect(runtime.args).toEqual([String(netuid), String(uids['miner1']), account('Miner1/hot').address]);
    expect(await eventsOfType(SubnetAdded)).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ netuid }) }),
    ]);
  });

  it('reports axons served at IPv4 and IPv6 addresses as text, and the metagraph follows', async () => {
    await chain.submit(
      chain.api.tx['subtensorModule']!['serveAxon']!(netuid, 7, DOC_IPV4, 8091, 4, 0, 0, 0),
      account('Miner1/hot'),
    );
    await chain.submit(
      chain.api.tx['subtensorModule']!['serveAxon']!(netuid, 3, DOC_IPV6, 443, 6, 1, 0, 0),
      account('Miner2/hot'),
    );
    const v4 = await waitForEvent(AxonServed, (data) => data['hotkey'] === account('Miner1/hot').address);
    expect(v4.data).toMatchObject({
      netuid,
      ip: '203.0.113.7',
      ipType: 4,
      port: 8091,
      protocol: 0,
      version: 7,
    });
    await expectDerivedFrom(v4, 'subtensorModule.AxonServed');
    const v6 = await waitForEvent(AxonServed, (data) => data['hotkey'] === account('Miner2/hot').address);
    expect(v6.data).toMatchObject({ ip: '2001:db8::1', ipType: 6, port: 443, protocol: 1, version: 3 });

    const neuron = await eventually(async () => {
      const reply = await rpc.call(GetNeuron, { netuid, hotkey: account('Miner2/hot').address });
      return reply.neuron.axon ? reply : undefined;
    }, 'the served axon indexed');
    expect(neuron.neuron).toMatchObject({
      uid: uids['miner2'],
      coldkey: account('Miner').address,
      axon: { ip: '2001:db8::1', ipType: 6, port: 443, protocol: 1, version: 3 },
    });
  });

  it('reports stake added, and serves the whole metagraph from its projection', async () => {
    await chain.submit(
      chain.api.tx['subtensorModule']!['addStake']!(account('Validator/hot').address, netuid, 100n * TAO),
      account('Miner'),
    );
    const staked = await waitForEvent(
      StakeAdded,
      (data) => data['hotkey'] === account('Validator/hot').address,
    );
    expect(staked.data).toMatchObject({
      coldkey: account('Miner').address,
      netuid,
      amount: String(100n * TAO),
    });
    await expectDerivedFrom(staked, 'subtensorModule.StakeAdded');

    const metagraph = await eventually(async () => {
      const reply = await rpc.call(GetMetagraph, { netuid });
      return reply.blockNumber >= (staked.data as { blockNumber: number }).blockNumber ? reply : undefined;
    }, 'the metagraph at the staking block');
    expect(metagraph.neurons.map((neuron) => neuron.uid)).toEqual([
      0,
      uids['miner1'],
      uids['miner2'],
      uids['validator'],
    ]);
    const validator = metagraph.neurons.find((neuron) => neuron.uid === uids['validator'])!;
    expect(validator.hotkey).toBe(account('Validator/hot').address);
    // dynamic TAO: the hotkey's stake on the subnet is alpha (a fresh subnet's pool may swap TAO to 0 alpha).
    const alphaAt = await chain.api.at(metagraph.blockHash);
    const totalAlpha = await alphaAt.query['subtensorModule']!['totalHotkeyAlpha']!(
      account('Validator/hot').address,
      netuid,
    );
    expect(validator.stake).toBe(totalAlpha.toString());
    expect(validator.registrationBlock).toBeGreaterThan(0);
    expect(metagraph.neurons.find((neuron) => neuron.uid === uids['miner1'])!.axon).toMatchObject({
      ip: '203.0.113.7',
      port: 8091,
    });
    const synced = await eventsOfType(MetagraphSynced);
    expect(
      synced.some((event) => (event.data as { blockNumber: number }).blockNumber === metagraph.blockNumber),
    ).toBe(true);
    await expect(rpc.call(GetMetagraph, { netuid: netuid + 100 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('reports transfers to configured and billing-assigned addresses only', async () => {
    const deposit = account('Customer/deposit');
    await store.append(streamIdOf('billing', 'account', 'acct-1'), [
      DepositAddressAssigned.create({ accountId: 'acct-1', address: deposit.address }),
    ]);
    const payer = account('Miner');
    const transfer = (to: string, amount: bigint) =>
      chain.submit(chain.api.tx['balances']!['transferKeepAlive']!(to, amount), payer);
    await eventually(async () => {
      const rows = await db.query(`select 1 from "${env.schema}".watched_addresses where address = $1`, [
        deposit.address,
      ]);
      return rows.rowCount === 1 ? true : undefined;
    }, 'the deposit address watched');
    await transfer(deposit.address, 7n * TAO);
    await transfer(account('Nobody').address, 3n * TAO);
    await transfer(account('Configured/deposit').address, 2n * TAO);

    const toDeposit = await waitForEvent(TransferObserved, (data) => data['to'] === deposit.address);
    expect(toDeposit.data).toMatchObject({
      from: payer.address,
      amount: String(7n * TAO),
      extrinsicIndex: 1,
    });
    const runtime = await expectDerivedFrom(toDeposit, 'balances.Transfer');
    expect(runtime.args).toEqual([payer.address, deposit.address, String(7n * TAO)]);
    await waitForEvent(TransferObserved, (data) => data['to'] === account('Configured/deposit').address);
    const transfers = await eventsOfType(TransferObserved);
    expect(transfers.map((event) => (event.data as { to: string }).to).sort()).toEqual(
      [deposit.address, account('Configured/deposit').address].sort(),
    );
  });

  it('waits for the weights rate limit instead of failing, then sets the weights once', async () => {
    const head = await chain.newBlocks(1);
    // The validator "just set weights": LastUpdate = head, and the limit is 6 blocks.
    const lastUpdate = [head, head, head, head];
    await chain.setStorage({
      SubtensorModule: { WeightsSetRateLimit: [[[netuid], 6]], LastUpdate: [[[netuid], lastUpdate]] },
    });
    const proposalId = '0190f5d6-8a4e-7c3b-9d2e-1f0a2b3c4d5e';
    const proposal = WeightsProposed.create({
      proposalId,
      netuid,
      versionKey: '0',
      weights: [
        { uid: uids['miner1']!, weight: 0.75 },
        { hotkey: account('Miner2/hot').address, weight: 0.25 },
        // deregistered since scoring: uid 0 is held by the owner's hotkey, not this one
        { uid: 0, hotkey: account('Gone/hot').address, weight: 5 },
      ],
    });
    await store.append(streamIdOf('scoring', 'proposal', proposalId), [proposal]);
    // Redelivered / re-published with another event id: still one submission.
    await store.append(streamIdOf('scoring', 'proposal', proposalId), [proposal]);
    await indexer.waitForLine(/waiting for the weights rate limit/);
    expect(await eventsOfType(WeightsSubmitted)).toEqual([]);
    await chain.newBlocks(6);
    const submitted = await waitForEvent(WeightsSubmitted, (data) => data['proposalId'] === proposalId);
    expect(submitted.data).toMatchObject({
      netuid,
      hotkey: account('Validator/hot').address,
      method: 'setWeights',
      uids: [uids['miner1'], uids['miner2']],
      weights: [65535, 21845],
    });
    expect((submitted.data as { blockNumber: number }).blockNumber).toBeGreaterThanOrEqual(head + 6);
    const stored = await chain.api.query['subtensorModule']!['weights']!(netuid, uids['validator']);
    expect(stored.toJSON()).toEqual([
      [uids['miner1'], 65535],
      [uids['miner2'], 21845],
    ]);
    const weightsSet = await waitForEvent(WeightsSet, (data) => data['uid'] === uids['validator']);
    expect(weightsSet.data).toMatchObject({ netuid, hotkey: account('Validator/hot').address });
    await chain.newBlocks(2);
    const outcomes = (await chainEvents()).filter(
      (event) => (event.data as { proposalId?: string }).proposalId === proposalId,
    );
    expect(outcomes).toHaveLength(1);
    expect(indexer.output.join('\n')).not.toContain('SettingWeightsTooFast');
  });

  it(
    'with commit-reveal on, commits the hash first and reveals in the reveal epoch, once',
    { timeout: 150_000 },
    async () => {
      await setCommitReveal(true);
      const validator = account('Validator/hot').address;
      const proposalId = '0190f5d6-8a4e-7c3b-9d2e-1f0a2b3c4d60';
      await store.append(streamIdOf('scoring', 'proposal', proposalId), [
        WeightsProposed.create({
          proposalId,
          netuid,
          versionKey: '0',
          weights: [
            { uid: uids['miner1']!, weight: 1 },
            { uid: uids['miner2']!, weight: 2 },
          ],
        }),
      ]);
      await indexer.waitForLine(/weights committed; waiting to reveal/);
      // Committed, not revealed: the chain holds a hash for the validator and no event was emitted.
      const commits = await chain.api.query['subtensorModule']!['weightCommits']!(netuid, validator);
      expect((commits.toJSON() as unknown[]).length).toBe(1);
      expect(
        (await eventsOfType(WeightsSubmitted)).filter(
          (event) => (event.data as { proposalId: string }).proposalId === proposalId,
        ),
      ).toEqual([]);

      // Time passes on chain until the reveal epoch; the writer reveals on its own.
      const submitted = await eventually(
        async () => {
          await chain.newBlocks(4);
          return (await eventsOfType(WeightsSubmitted)).find(
            (event) => (event.data as { proposalId: string }).proposalId === proposalId,
          );
        },
        'the revealed weights',
        { timeoutMs: 90_000 },
      );
      expect(submitted.data).toMatchObject({
        netuid,
        hotkey: validator,
        method: 'commitWeights',
        uids: [uids['miner1'], uids['miner2']],
        weights: [32768, 65535],
      });
      const stored = await chain.api.query['subtensorModule']!['weights']!(netuid, uids['validator']);
      expect(stored.toJSON()).toEqual([
        [uids['miner1'], 32768],
        [uids['miner2'], 65535],
      ]);
      // The reveal consumed the commit.
      const left = await chain.api.query['subtensorModule']!['weightCommits']!(netuid, validator);
      expect((left.toJSON() as unknown[] | null)?.length ?? 0).toBe(0);
      await setCommitReveal(false);
    },
  );

  it(
    'a writer killed between commit and reveal reveals the stored commit after the restart, once',
    { timeout: 150_000 },
    async () => {
      await setCommitReveal(true);
      const proposalId = '0190f5d6-8a4e-7c3b-9d2e-1f0a2b3c4d61';
      await store.append(streamIdOf('scoring', 'proposal', proposalId), [
        WeightsProposed.create({
          proposalId,
          netuid,
          versionKey: '0',
          weights: [
            { uid: uids['miner1']!, weight: 3 },
            { uid: uids['miner2']!, weight: 1 },
          ],
        }),
      ]);
      // This proposal's line: the process also logged the previous test's commit.
      await indexer.waitForLine(new RegExp(`${proposalId}.*weights committed; waiting to reveal`));
      await indexer.kill('SIGKILL');
      indexer = await startIndexer(indexerEnv);
      // The dead process holds the writer lease until it lapses (15 s after its last renewal; on a
      // loaded machine the restart can take that long), so the new one may stand by first.
      await indexer.waitForLine(/revealing a commit made before the restart/, 90_000);

      const outcome = (event: EventEnvelope) =>
        (event.data as { proposalId?: string }).proposalId === proposalId;
      const submitted = await eventually(
        async () => {
          await chain.newBlocks(4);
          return (await eventsOfType(WeightsSubmitted)).find(outcome);
        },
        'the weights revealed after the restart',
        { timeoutMs: 90_000 },
      );
      expect(submitted.data).toMatchObject({ method: 'commitWeights', weights: [65535, 21845] });
      const stored = await chain.api.query['subtensorModule']!['weights']!(netuid, uids['validator']);
      expect(stored.toJSON()).toEqual([
        [uids['miner1'], 65535],
        [uids['miner2'], 21845],
      ]);
      expect((await chainEvents()).filter(outcome)).toHaveLength(1);
      await setCommitReveal(false);
    },
  );

  it(
    'a SIGTERM while a reveal is pending drains within the shutdown grace, and the restarted writer reveals once',
    { timeout: 150_000 },
    async () => {
      await setCommitReveal(true);
      const proposalId = '0190f5d6-8a4e-7c3b-9d2e-1f0a2b3c4d62';
      await store.append(streamIdOf('scoring', 'proposal', proposalId), [
        WeightsProposed.create({
          proposalId,
          netuid,
          versionKey: '0',
          weights: [
            { uid: uids['miner1']!, weight: 1 },
            { uid: uids['miner2']!, weight: 4 },
          ],
        }),
      ]);
      await indexer.waitForLine(new RegExp(`${proposalId}.*weights committed; waiting to reveal`));
      // The reveal epoch is blocks away and nothing builds them: only the stop can end the wait.
      const exit = await indexer.kill('SIGTERM');
      expect(exit).toEqual({ code: 0, signal: null });
      const drained = JSON.parse(indexer.output.find((line) => line.includes('"drained"'))!) as {
        forced: boolean;
      };
      expect(drained.forced).toBe(false);
      expect(indexer.output.join('\n')).not.toContain('drain step failed');

      const outcome = (event: EventEnvelope) =>
        (event.data as { proposalId?: string }).proposalId === proposalId;
      expect((await chainEvents()).filter(outcome)).toEqual([]);
      indexer = await startIndexer(indexerEnv);
      // The stop released the writer lease; the new process takes it and reveals the stored commit.
      await indexer.waitForLine(/revealing a commit made before the restart/);
      const submitted = await eventually(
        async () => {
          await chain.newBlocks(4);
          return (await eventsOfType(WeightsSubmitted)).find(outcome);
        },
        'the weights revealed after the restart',
        { timeoutMs: 90_000 },
      );
      expect(submitted.data).toMatchObject({ method: 'commitWeights', weights: [16384, 65535] });
      await chain.newBlocks(2);
      expect((await chainEvents()).filter(outcome)).toHaveLength(1);
      await setCommitReveal(false);
    },
  );

  it('refuses malformed proposals with a reason and sends nothing', async () => {
    const before = (
      await chain.api.query['subtensorModule']!['weights']!(netuid, uids['validator'])
    ).toJSON();
    const cases = [
      {
        id: '0190f5d6-8a4e-7c3b-9d2e-000000000001',
        netuid,
        weights: [{ uid: 999, weight: 1 }],
        reason: 'UnknownUid',
      },
      {
        id: '0190f5d6-8a4e-7c3b-9d2e-000000000002',
        netuid,
        weights: [{ hotkey: account('Stranger/hot').address, weight: 1 }],
        reason: 'UnknownHotkey',
      },
      {
        id: '0190f5d6-8a4e-7c3b-9d2e-000000000003',
        netuid,
        weights: [{ uid: 1, weight: -1 }],
        reason: 'NegativeWeight',
      },
      {
        id: '0190f5d6-8a4e-7c3b-9d2e-000000000004',
        netuid,
        weights: [
          { uid: 1, weight: 0 },
          { uid: 2, weight: 0 },
        ],
        reason: 'AllWeightsZero',
      },
      {
        id: '0190f5d6-8a4e-7c3b-9d2e-000000000005',
        netuid: netuid + 7,
        weights: [{ uid: 1, weight: 1 }],
        reason: 'WrongNetuid',
      },
    ];
    for (const c of cases) {
      await store.append(streamIdOf('scoring', 'proposal', c.id), [
        WeightsProposed.create({ proposalId: c.id, netuid: c.netuid, versionKey: '0', weights: c.weights }),
      ]);
    }
    for (const c of cases) {
      const failed = await waitForEvent(WeightsSubmissionFailed, (data) => data['proposalId'] === c.id);
      expect(failed.data).toMatchObject({ reason: c.reason, submitted: false });
    }
    expect(
      (await chain.api.query['subtensorModule']!['weights']!(netuid, uids['validator'])).toJSON(),
    ).toEqual(before);
  });

  it('resumes from the cursor after the chain connection drops, with no gap and no duplicate; a proposal waits for the chain', async () => {
    await proxy.close();
    await eventually(async () => ((await indexer.ready()).status === 503 ? true : undefined), 'not ready', {
      timeoutMs: 30_000,
    });
    // A proposal that arrives while the chain is unreachable is not failed: it waits in the inbox.
    const proposalId = '0190f5d6-8a4e-7c3b-9d2e-1f0a2b3c4d70';
    await store.append(streamIdOf('scoring', 'proposal', proposalId), [
      WeightsProposed.create({
        proposalId,
        netuid,
        versionKey: '0',
        weights: [
          { uid: uids['miner1']!, weight: 1 },
          { uid: uids['miner2']!, weight: 1 },
        ],
      }),
    ]);
    await indexer.waitForLine(
      new RegExp(`${proposalId}.*chain unavailable before sending; proposal back to pending`),
    );
    const payer = account('Miner');
    const deposit = account('Configured/deposit').address;
    for (let i = 0; i < 3; i += 1) {
      await chain.submit(
        chain.api.tx['balances']!['transferKeepAlive']!(deposit, BigInt(10 + i) * TAO),
        payer,
      );
    }
    await proxy.open();
    const head = (await chain.api.rpc.chain.getHeader()).number.toNumber();
    await eventually(
      async () => {
        const rows = await db.query(`select height from "${env.schema}".chain_cursor`);
        return Number(rows.rows[0]?.height) >= head ? true : undefined;
      },
      'cursor at head',
      { timeoutMs: 60_000 },
    );
    const transfers = await eventsOfType(TransferObserved);
    const amounts = transfers
      .filter((e) => (e.data as { to: string }).to === deposit)
      .map((e) => (e.data as { amount: string }).amount);
    expect(amounts).toEqual([String(2n * TAO), String(10n * TAO), String(11n * TAO), String(12n * TAO)]);
    const all = await chainEvents();
    expect(new Set(all.map((event) => event.id)).size).toBe(all.length);
    const links = await db.query(
      `select count(*)::int as n, min(height)::int as lo, max(height)::int as hi,
              count(*) filter (where parent_hash <> prev)::int as breaks
         from (select height, parent_hash, lag(hash) over (order by height) as prev from "${env.schema}".indexed_blocks) b`,
    );
    expect(links.rows[0]).toMatchObject({ lo: 1, breaks: 0 });
    expect(links.rows[0].n).toBe(links.rows[0].hi);
    expect(indexer.output.join('\n')).toMatch(/chain connection dropped; reconnecting/);
    expect(indexer.output.join('\n')).not.toContain('Validator/hot');

    const outcome = (event: EventEnvelope) =>
      (event.data as { proposalId?: string }).proposalId === proposalId;
    const submitted = await waitForEvent(WeightsSubmitted, (data) => data['proposalId'] === proposalId);
    expect(submitted.data).toMatchObject({ method: 'setWeights', weights: [65535, 65535] });
    expect((await chainEvents()).filter(outcome)).toHaveLength(1);
  });
});

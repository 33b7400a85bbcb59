// The operator CLI as an operator runs it: a process per command line, against billing running as
// its own process on a nats-server that enforces the permissions table. Each command's output and
// exit code are checked, and so is what it did (or did not do) to billing's books.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  ChargeGpuUsage,
  EventRegistry,
  TransferObserved,
  eventContracts,
  streamIdOf,
} from '@tessera/contracts';
import { createNatsUserKey } from '@tessera/devservers';
import { EventStore } from '@tessera/eventstore';
import { RpcClient } from '@tessera/platform/messaging';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBilling, tessera, type BillingProcess, type CliResult } from './processes.js';

const BLOCK_HASH = `0x${'cd'.repeat(32)}`;
const SENDER = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
/** An address no account claimed (Bob's development key). */
const UNCLAIMED_ADDRESS = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty';

describe('tessera against billing (processes, NATS permissions enforced)', () => {
  let env: TestEnvironment;
  let billing: BillingProcess;
  let harness: NatsConnection;
  /** The test's own writer of other services' events (the chain indexer's transfers). */
  let store: EventStore;
  let workDir: string;
  /** The CLI's environment as an operator has it: the operator's seed and where NATS is. */
  let operatorEnv: Record<string, string>;

  const cli = (...args: string[]): Promise<CliResult> => tessera(args, operatorEnv, workDir);
  const json = async <T>(...args: string[]): Promise<T> => {
    const result = await cli('--json', ...args);
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as T;
  };
  const balanceOf = async (account: string) =>
    (await json<{ balance: string }>('accounts', 'show', '--account', account)).balance;

  beforeAll(async () => {
    env = await useTestEnvironment({ natsAuthorization: true });
    const keys = env.natsKeys;
    if (!keys) throw new Error('natsAuthorization gives each identity a key');
    workDir = mkdtempSync(join(tmpdir(), 'tessera-cli-test-'));
    billing = await startBilling({
      SERVICE_NAME: 'billing',
      NODE_ENV: 'production',
      NATS_URL: env.natsUrl,
      NATS_NKEY_SEED: keys.billing.seed,
      NATS_SUBJECT_PREFIX: env.namespace,
      DATABASE_URL: env.databaseUrl,
      DATABASE_SCHEMA: env.schema,
      LOG_LEVEL: 'warn',
      DEPOSIT_SEED: `0x${randomBytes(32).toString('hex')}`,
      API_KEY_PEPPER: randomBytes(32).toString('hex'),
      MIN_DEPOSIT_RAO: '1000000',
    });
    harness = await connect(env.natsConnectionOptions);
    store = new EventStore({
      connection: harness,
      registry: new EventRegistry(eventContracts),
      namespace: env.namespace,
    });
    // Every stream, as the other services would have created them (billing makes only its own).
    await store.ensureStreams();
    operatorEnv = {
      NATS_URL: env.natsUrl,
      NATS_SUBJECT_PREFIX: env.namespace,
      NATS_NKEY_SEED: keys.operator.seed,
      // Nothing of the repository's own `.data` (a developer's npm start) may stand in.
      TESSERA_DATA_DIR: join(workDir, 'no-data'),
    };
  }, 120_000);

  afterAll(async () => {
    await billing?.stop();
    await harness?.close();
    await env?.cleanup();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('opens an account and shows it', async () => {
    const opened = await cli('accounts', 'open', '--account', 'acme', '--name', 'Acme Inc');
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout).toMatch(/^account\s+acme$/m);
    const depositAddress = /^deposit address\s+(5\w{46,47})$/m.exec(opened.stdout)?.[1];
    expect(depositAddress).toBeDefined();

    const shown = await cli('accounts', 'show', '--account', 'acme');
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^status\s+open$/m);
    expect(shown.stdout).toContain(`${depositAddress}`);
    expect(shown.stdout).toMatch(/^balance\s+0\.00 USD$/m);
  });

  it('credits exactly what was typed in USD, once per idempotency key', async () => {
    const credited = await cli(
      'credit',
      '--account',
      'acme',
      '--usd',
      '5.25',
      '--idempotency-key',
      'welcome',
    );
    expect(credited.code, credited.stderr).toBe(0);
    expect(credited.stdout).toMatch(/^balance\s+5\.25 USD$/m);
    expect(await balanceOf('acme')).toBe('5250000000');

    const retried = await cli('credit', '--account', 'acme', '--usd', '5.25', '--idempotency-key', 'welcome');
    expect(retried.code, retried.stderr).toBe(0);
    expect(await balanceOf('acme')).toBe('5250000000');

    const tiny = await cli(
      'credit',
      '--account',
      'acme',
      '--usd',
      '0.000000001',
      '--idempotency-key',
      'tiny',
    );
    expect(tiny.code, tiny.stderr).toBe(0);
    expect(await balanceOf('acme')).toBe('5250000001');
  });

  it('refuses an amount with 10 decimals on the command line: exit 2, the option named, nothing credited', async () => {
    const refused = await cli(
      'credit',
      '--account',
      'acme',
      '--usd',
      '1.0000000001',
      '--idempotency-key',
      'too-fine',
    );
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toContain("option '--usd <amount>'");
    expect(refused.stderr).toContain('has 10 decimals; USD has 9');
    expect(await balanceOf('acme')).toBe('5250000001');

    const tooLarge = await cli(
      'credit',
      '--account',
      'acme',
      '--usd',
      `1${'0'.repeat(21)}`,
      '--idempotency-key',
      'huge',
    );
    expect(tooLarge.code).toBe(2);
    expect(tooLarge.stderr).toContain('more than the largest amount accepted');
  });

  it('prints the service’s refusal for an unknown account with its code: exit 1', async () => {
    const shown = await cli('accounts', 'show', '--account', 'nobody');
    expect(shown.code).toBe(1);
    expect(shown.stdout).toBe('');
    expect(shown.stderr).toMatch(/^error NOT_FOUND: /);

    const credited = await cli('credit', '--account', 'nobody', '--usd', '1', '--idempotency-key', 'ghost');
    expect(credited.code).toBe(1);
    expect(credited.stderr).toMatch(/^error NOT_FOUND: /);
  });

  it('is refused by NATS with another identity’s seed, and with none: nothing credited, no seed printed', async () => {
    const proxySeed = env.natsKeys?.['inference-proxy'].seed ?? '';
    const seedFile = join(workDir, 'proxy.nk');
    writeFileSync(seedFile, proxySeed, { mode: 0o600 });
    const { NATS_NKEY_SEED: _operatorSeed, ...withoutSeed } = operatorEnv;

    const asProxy = await tessera(
      [
        '--seed-file',
        seedFile,
        'credit',
        '--account',
        'acme',
        '--usd',
        '1000',
        '--idempotency-key',
        'free-money',
      ],
      withoutSeed,
      workDir,
    );
    expect(asProxy.code).toBe(1);
    expect(asProxy.stderr).toMatch(/^error FORBIDDEN: NATS refused this identity /);
    expect(asProxy.stderr).toContain(`--seed-file ${seedFile}`);
    expect(asProxy.stderr + asProxy.stdout).not.toContain(proxySeed);

    const unknownKey = createNatsUserKey().seed;
    const asStranger = await tessera(['accounts', 'show', '--account', 'acme'], {
      ...withoutSeed,
      NATS_NKEY_SEED: unknownKey,
    });
    expect(asStranger.code).toBe(1);
    expect(asStranger.stderr).toMatch(/^error UNAUTHORIZED: /);
    expect(asStranger.stderr).toContain('NATS_NKEY_SEED');
    expect(asStranger.stderr).not.toContain(unknownKey);

    const anonymous = await tessera(['accounts', 'show', '--account', 'acme'], withoutSeed);
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/^error UNAUTHORIZED: .*wants credentials/);

    expect(await balanceOf('acme')).toBe('5250000001');
  });

  it('says where it looked when NATS is not there', async () => {
    const down = await tessera(['accounts', 'show', '--account', 'acme'], {
      ...operatorEnv,
      NATS_URL: 'nats://127.0.0.1:1',
    });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^error UNAVAILABLE: cannot reach NATS at 127\.0\.0\.1:1 \(from NATS_URL\)/);
  });

  it('issues a key that is printed once, lists keys without it, and revokes one', async () => {
    const issued = await cli(
      'keys',
      'issue',
      '--account',
      'acme',
      '--name',
      'ci',
      '--scopes',
      'inference,account:read',
    );
    expect(issued.code, issued.stderr).toBe(0);
    const key = /^key\s+(tsk_\S+)$/m.exec(issued.stdout)?.[1];
    const keyId = /^key id\s+([a-z0-9]{16})$/m.exec(issued.stdout)?.[1];
    expect(key).toBeDefined();
    expect(keyId).toBeDefined();
    expect(issued.stderr).toContain('shown only now');

    const listed = await cli('keys', 'list', '--account', 'acme');
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${keyId}\\s+active\\s+ci\\s+inference,account:read`, 'm'));
    expect(listed.stdout).not.toContain(key);

    const revoked = await cli('keys', 'revoke', '--account', 'acme', '--key-id', keyId ?? '');
    expect(revoked.code, revoked.stderr).toBe(0);
    const { keys } = await json<{ keys: { keyId: string; status: string }[] }>(
      'keys',
      'list',
      '--account',
      'acme',
    );
    expect(keys).toEqual([expect.objectContaining({ keyId, status: 'revoked' })]);

    const badScope = await cli('keys', 'issue', '--account', 'acme', '--scopes', 'inference,root');
    expect(badScope.code).toBe(2);
    expect(badScope.stderr).toContain("option '--scopes <list>'");
  });

  it('sets and shows prices, typed in USD and sent exactly in nano-USD', async () => {
    expect((await cli('prices', 'tao', '--usd', '400')).code).toBe(0);
    expect(
      (await cli('prices', 'model', '--model', 'llama-3-8b', '--input-usd', '0.20', '--output-usd', '0.6'))
        .code,
    ).toBe(0);
    expect(
      (await cli('prices', 'gpu', '--gpu', 'h100', '--training-usd', '2.50', '--deployment-usd', '3')).code,
    ).toBe(0);

    const book = await json<{
      nanoUsdPerTao: string;
      models: unknown[];
      gpus: unknown[];
    }>('prices', 'show');
    expect(book.nanoUsdPerTao).toBe('400000000000');
    expect(book.models).toEqual([
      { model: 'llama-3-8b', inputNanoUsdPerMillion: '200000000', outputNanoUsdPerMillion: '600000000' },
    ]);
    expect(book.gpus).toEqual([
      { gpuType: 'h100', trainingNanoUsdPerHour: '2500000000', deploymentNanoUsdPerHour: '3000000000' },
    ]);
    const shown = await cli('prices', 'show');
    expect(shown.stdout).toMatch(/^TAO\s+400\.00 USD per TAO$/m);
    expect(shown.stdout).toMatch(/^llama-3-8b\s+0\.20\s+0\.60$/m);
  });

  it('shows usage, pages through the ledger and exports the statement as CSV', async () => {
    // An hour of an H100 deployment, charged the way the scheduler will charge it: $3.00.
    const scheduler = new RpcClient(harness, { subjectPrefix: env.namespace });
    await scheduler.call(ChargeGpuUsage, {
      accountId: 'acme',
      chargeId: 'deployment-hour-1',
      product: 'deployment',
      gpuType: 'h100',
      gpuSeconds: 3600,
    });
    // A range around today (billing's clock names the day), wide enough for a run across midnight.
    const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
    const [from, to] = [day(-1), day(1)];
    await expect
      .poll(
        async () =>
          (await cli('usage', '--account', 'acme', '--from', from, '--to', to, '--group-by', 'day')).stdout,
        {
          timeout: 20_000,
        },
      )
      .toMatch(/^\d{4}-\d{2}-\d{2}\s+-\s+1\s+0\s+0\s+3600\s+3\.00$/m);

    // Two credits and the charge: the ledger lists them a page at a time, oldest first.
    await expect
      .poll(async () => (await json<{ entries: unknown[] }>('ledger', '--account', 'acme')).entries.length, {
        timeout: 20_000,
      })
      .toBe(3);
    const first = await cli('ledger', '--account', 'acme', '--limit', '2');
    expect(first.code, first.stderr).toBe(0);
    const after = /--after (\d+)$/m.exec(first.stdout)?.[1];
    expect(after).toBeDefined();
    const second = await json<{ entries: { change: string }[]; next: string | null }>(
      'ledger',
      '--account',
      'acme',
      '--limit',
      '2',
      '--after',
      after ?? '',
    );
    expect(second.entries.map((entry) => entry.change)).toEqual(['-3000000000']);
    expect(second.next).toBeNull();

    const csv = await cli('statement', '--account', 'acme', '--from', from, '--to', to);
    expect(csv.code, csv.stderr).toBe(0);
    const lines = csv.stdout.trim().split('\n');
    expect(lines).toHaveLength(4);
    const file = join(workDir, 'statement.csv');
    const written = await cli(
      'statement',
      '--account',
      'acme',
      '--from',
      from,
      '--to',
      to,
      '--out',
      'statement.csv',
    );
    expect(written.code, written.stderr).toBe(0);
    expect(written.stdout).toContain(`wrote 4 lines to ${file}`);
    expect(readFileSync(file, 'utf8').trim()).toBe(csv.stdout.trim());

    const badDay = await cli('statement', '--account', 'acme', '--from', '2026-13-01', '--to', to);
    expect(badDay.code).toBe(2);
    expect(badDay.stderr).toContain("option '--from <day>'");
  });

  it('lists a deposit to an unclaimed address on suspense and credits it to the account it belongs to', async () => {
    await store.append(
      streamIdOf('chain', 'transfer', 'cli-test-1'),
      [
        TransferObserved.create({
          from: SENDER,
          to: UNCLAIMED_ADDRESS,
          amount: '1500000000', // 1.5 TAO
          blockNumber: 7,
          blockHash: BLOCK_HASH,
          extrinsicIndex: 1,
          eventIndex: 3,
        }),
      ],
      { expected: { sequence: 0, version: 0 } },
    );
    const depositKey = `deposit:${BLOCK_HASH}:3`;
    await expect
      .poll(async () => (await cli('suspended-deposits', 'list')).stdout, { timeout: 20_000 })
      .toMatch(new RegExp(`^${depositKey}\\s+1\\.5 TAO\\s+unclaimed-address\\s+open\\s`, 'm'));

    const before = BigInt(await balanceOf('acme'));
    const credited = await cli(
      'suspended-deposits',
      'credit',
      '--deposit-key',
      depositKey,
      '--address',
      UNCLAIMED_ADDRESS,
      '--account',
      'acme',
    );
    expect(credited.code, credited.stderr).toBe(0);
    // 1.5 TAO at $400.
    expect(credited.stdout).toMatch(/^credited\s+600\.00 USD$/m);
    await expect
      .poll(async () => BigInt(await balanceOf('acme')), { timeout: 20_000 })
      .toBe(before + 600_000_000_000n);
  });

  it('reconciles the books: consistent, exit 0', async () => {
    const result = await cli('reconcile');
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^consistent\s+yes$/m);
    expect(result.stdout).toMatch(/^TAO transferred\s+1\.5 TAO$/m);
    expect(result.stdout).toMatch(/^TAO booked\s+1\.5 TAO$/m);
  });

  it('lists a parked event and replays it; one that still cannot apply stays parked (exit 3)', async () => {
    // Not an event at all, on a subject billing's deposit reactor reads: poison, parked at once.
    await store.jetstream.publish(`${env.namespace}.chain.transfer.garbled`, 'not json');
    let id: string | undefined;
    await expect
      .poll(
        async () => {
          const { deadLetters } = await json<{ deadLetters: { id: string; consumer: string }[] }>(
            'dead-letters',
            'list',
            '--context',
            'billing',
          );
          id = deadLetters[0]?.id;
          return deadLetters.map((letter) => letter.consumer);
        },
        { timeout: 20_000 },
      )
      .toEqual(['billing-deposit-crediting']);

    const listed = await cli(
      'dead-letters',
      'list',
      '--context',
      'billing',
      '--consumer',
      'billing-deposit-crediting',
    );
    expect(listed.stdout).toMatch(new RegExp(`^${id}\\s+billing-deposit-crediting\\s`, 'm'));

    const replayed = await cli(
      'dead-letters',
      'replay',
      '--context',
      'billing',
      '--consumer',
      'billing-deposit-crediting',
    );
    expect(replayed.code).toBe(3);
    expect(replayed.stdout).toMatch(/^still failing\s+1$/m);
    const after = await json<{ deadLetters: unknown[] }>('dead-letters', 'list', '--context', 'billing');
    expect(after.deadLetters).toHaveLength(1);

    const unknown = await cli(
      'dead-letters',
      'replay',
      '--context',
      'billing',
      '--consumer',
      'billing-nothing',
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error NOT_FOUND: /);
  });

  it('suspends, reinstates and closes an account', async () => {
    const suspended = await cli('accounts', 'suspend', '--account', 'acme', '--reason', 'unpaid');
    expect(suspended.code, suspended.stderr).toBe(0);
    expect(suspended.stdout).toMatch(/^status\s+suspended$/m);
    expect((await cli('accounts', 'reinstate', '--account', 'acme')).stdout).toMatch(/^status\s+open$/m);
    expect((await cli('accounts', 'close', '--account', 'acme')).stdout).toMatch(/^status\s+closed$/m);
    const again = await cli('accounts', 'reinstate', '--account', 'acme');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error billing\.ACCOUNT_CLOSED: /);
    // Billing kept running through every refusal.
    expect(billing.process.exitInfo()).toBeUndefined();
  });

  it('prints help for every command without connecting anywhere', async () => {
    const offline = { TESSERA_DATA_DIR: join(workDir, 'no-data'), NATS_URL: 'nats://127.0.0.1:1' };
    for (const args of [[], ['accounts'], ['accounts', 'open'], ['credit'], ['dead-letters', 'replay']]) {
      const help = await tessera([...args, '--help'], offline);
      expect(help.code, `${args.join(' ')}: ${help.stderr}`).toBe(0);
      expect(help.stdout).toContain(`Usage: tessera${args.length ? ` ${args.join(' ')}` : ''}`);
    }
    const unknown = await tessera(['launch-rockets'], offline);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'launch-rockets'");
  });
});

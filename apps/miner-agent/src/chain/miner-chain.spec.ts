import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SubtensorStorage } from '@tessera/bittensor';
import { startChain, type ChainHarness } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAxonIp } from './axon-address.js';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built `tessera-miner` as a miner would, with only the given environment. */
async function tesseraMiner(args: string[], env: Record<string, string>): Promise<CliResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('tessera-miner register / serve-axon on a local subtensor chain', () => {
  let chain: ChainHarness;
  let netuid: number;
  let env: Record<string, string>;

  beforeAll(async () => {
    chain = await startChain();
    const owner = chain.account('SubnetOwner');
    await chain.fund(owner.address, 10n ** 15n);
    netuid = await chain.registerSubnet(owner, chain.account('SubnetOwner/hot'));
    await chain.fund(chain.account('MinerCold').address, 10n ** 13n);
    env = {
      CHAIN_ENDPOINT: chain.endpoint,
      MINER_HOTKEY_SEED: '//MinerHot',
      MINER_COLDKEY_SEED: '//MinerCold',
    };
  });

  afterAll(async () => {
    await chain?.stop();
  });

  it('registers the hotkey once, paid by the coldkey', async () => {
    const hotkey = chain.account('MinerHot').address;
    const first = await tesseraMiner(['register', '--netuid', String(netuid)], env);
    expect(first.code).toBe(0);
    const uid = await new SubtensorStorage(chain.api).uidOf(netuid, hotkey);
    expect(uid).toBeDefined();
    expect(first.stdout).toBe(`registered ${hotkey} on netuid ${netuid} as uid ${uid}\n`);
    expect(await new SubtensorStorage(chain.api).coldkeyOf(hotkey)).toBe(chain.account('MinerCold').address);

    const balance = async () =>
      (
        (await chain.api.query['system']!['account']!(chain.account('MinerCold').address)).toJSON() as {
          data: { free: number | string };
        }
      ).data.free;
    const before = await balance();
    const again = await tesseraMiner(['register', '--netuid', String(netuid)], env);
    expect(again).toMatchObject({
      code: 0,
      stdout: `already registered ${hotkey} on netuid ${netuid} as uid ${uid}\n`,
    });
    expect(await balance()).toBe(before);
  });

  it('serves the axon at the given address and port', async () => {
    const result = await tesseraMiner(
      ['serve-axon', '--netuid', String(netuid), '--ip', '203.0.113.9', '--port', '8091'],
      env,
    );
    expect(result.code).toBe(0);
    const axon = await new SubtensorStorage(chain.api).axon(netuid, chain.account('MinerHot').address);
    expect(axon).toMatchObject({ ip: parseAxonIp('203.0.113.9').ip, ipType: 4, port: 8091, protocol: 4 });
  });

  it('reports the runtime refusing a coldkey that cannot pay, and usage mistakes, with distinct exit codes', async () => {
    const broke = await tesseraMiner(['register', '--netuid', String(netuid)], {
      ...env,
      MINER_HOTKEY_SEED: '//OtherHot',
      MINER_COLDKEY_SEED: '//EmptyCold',
    });
    expect(broke.code).toBe(1);
    // The runtime's own error, by name (the burn exceeds the coldkey's balance).
    expect(broke.stderr).toMatch(/^subtensorModule\.NotEnoughBalance/);
    expect(
      await new SubtensorStorage(chain.api).uidOf(netuid, chain.account('OtherHot').address),
    ).toBeUndefined();

    const usage = await tesseraMiner(
      ['serve-axon', '--netuid', String(netuid), '--ip', 'not-an-ip', '--port', '1'],
      env,
    );
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--ip');
  });
});

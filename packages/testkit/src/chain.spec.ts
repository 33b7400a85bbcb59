import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChain, type ChainHarness } from './chain.js';

const TAO = 1_000_000_000n;

// One file, one chain: chopsticks takes ~20 s to start and ~0.35 s per block on 2 cores.
describe('startChain', () => {
  let chain: ChainHarness;

  beforeAll(async () => {
    chain = await startChain();
  }, 180_000);

  afterAll(async () => {
    await chain?.stop();
  });

  it('runs the subtensor runtime', async () => {
    expect(chain.endpoint).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    expect(chain.api.runtimeVersion.specName.toString()).toBe('node-subtensor');
  });

  it('funds an account and advances blocks', async () => {
    const alice = chain.account('Alice');
    await chain.fund(alice.address, 5n * TAO);
    const account = (await chain.api.query['system']!['account']!(alice.address)).toJSON();
    expect(account).toMatchObject({ data: { free: Number(5n * TAO) } });

    const before = (await chain.api.rpc.chain.getHeader()).number.toNumber();
    const after = await chain.newBlocks(3);
    expect(after).toBe(before + 3);
  });

  it('registers a subnet and two neurons', async () => {
    const owner = chain.account('Owner');
    const ownerHot = chain.account('Owner/hot');
    const miner = chain.account('Miner');
    const minerHot = chain.account('Miner/hot');
    const validatorHot = chain.account('Validator/hot');
    await chain.fund(owner.address, 1_000_000n * TAO);
    await chain.fund(miner.address, 1_000_000n * TAO);

    const netuid = await chain.registerSubnet(owner, ownerHot);
    expect(netuid).toBeGreaterThanOrEqual(2);

    const minerUid = await chain.registerNeuron(netuid, miner, minerHot);
    const validatorUid = await chain.registerNeuron(netuid, miner, validatorHot);
    // The owner's hotkey holds uid 0.
    expect(new Set([minerUid, validatorUid]).size).toBe(2);
    expect(minerUid).toBeGreaterThan(0);

    const hotkeyAtUid = await chain.api.query['subtensorModule']!['keys']!(netuid, minerUid);
    expect(hotkeyAtUid.toString()).toBe(minerHot.address);
  }, 120_000);
});

import { ApiPromise, WsProvider } from '@polkadot/api';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { type ChopsticksHandle, raonetChainSpec, startChopsticks } from '@tessera/devservers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  isDispatchError,
  isExtrinsicRejected,
  isRuntimeItemMissing,
  isTransientChainError,
} from './chain-errors.js';
import { ExtrinsicSender } from './extrinsic-sender.js';
import { SubtensorStorage } from './subtensor-storage.js';
import { randomSalt, subnetEpochs, weightsCommitHash } from './weights-commit.js';

const TAO = 1_000_000_000n;

// One chopsticks chain (the real subtensor runtime, a block per extrinsic) for the whole file;
// the scenarios share its subnet and run in order.
describe('against the subtensor runtime', () => {
  let chopsticks: ChopsticksHandle;
  let api: ApiPromise;
  let owner: KeyringPair;
  let ownerHot: KeyringPair;
  let miner: KeyringPair;
  let validator: KeyringPair;
  let sender: ExtrinsicSender;
  let netuid: number;

  const rpc = (method: string, ...params: unknown[]) => api.rpc(method, ...params);
  const setStorage = (storage: unknown) => rpc('dev_setStorage', storage);
  const newBlocks = (count: number) => rpc('dev_newBlock', { count });
  const head = async () => (await api.rpc.chain.getHeader()).number.toNumber();
  const tx = (name: string, ...args: unknown[]) => api.tx['subtensorModule']![name]!(...args);
  const fund = (address: string) =>
    setStorage({
      System: { Account: [[[address], { providers: 1, data: { free: (1_000_000n * TAO).toString() } }]] },
    });

  beforeAll(async () => {
    chopsticks = await startChopsticks({ specPath: await raonetChainSpec() });
    await cryptoWaitReady();
    api = await ApiPromise.create({
      provider: new WsProvider(chopsticks.endpoint),
      noInitWarn: true,
      signedExtensions: {
        SubtensorSignedExtension: { extrinsic: {}, payload: {} },
        CommitmentsSignedExtension: { extrinsic: {}, payload: {} },
      },
    });
    const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });
    owner = keyring.addFromUri('//Owner');
    ownerHot = keyring.addFromUri('//Owner/hot');
    miner = keyring.addFromUri('//Miner/hot');
    validator = keyring.addFromUri('//Validator/hot');
    await fund(owner.address);
    await setStorage({ SubtensorModule: { NetworkRateLimit: 1 } });
    await newBlocks(2);
    // Chopsticks refuses a mortal era's proof when it builds a block between signing and sending.
    sender = new ExtrinsicSender(api, owner, { eraPeriod: 0 });
    const registered = await sender.send(tx('registerNetwork', ownerHot.address, 1));
    const added = registered.events.find(({ event }) => event.method === 'NetworkAdded');
    netuid = Number(added!.event.data[0]!.toString());
    await setStorage({
      SubtensorModule: {
        MaxRegistrationsPerBlock: [[[netuid], 64]],
        TargetRegistrationsPerInterval: [[[netuid], 64]],
      },
    });
  });

  afterAll(async () => {
    await api?.disconnect().catch(() => undefined);
    await chopsticks?.stop();
  });

  it('sends back-to-back extrinsics of one signer with distinct nonces, all included', async () => {
    const before = (await api.rpc.system.accountNextIndex(owner.address)).toNumber();
    const landed = await Promise.all([
      sender.send(tx('burnedRegister', netuid, miner.address)),
      sender.send(tx('burnedRegister', netuid, validator.address)),
    ]);
    expect(landed.every((inclusion) => inclusion.blockNumber > 0)).toBe(true);
    expect((await api.rpc.system.accountNextIndex(owner.address)).toNumber()).toBe(before + 2);
  });

  it('reads subtensor storage as typed values', async () => {
    const storage = new SubtensorStorage(api);
    const minerUid = await storage.uidOf(netuid, miner.address);
    expect(minerUid).toBeGreaterThan(0);
    expect(await storage.uidOf(netuid, owner.address)).toBeUndefined();
    expect(await storage.hotkeyAt(netuid, minerUid!)).toBe(miner.address);
    const byUid = await storage.hotkeysByUid(netuid);
    expect(byUid.get(0)).toBe(ownerHot.address);
    expect(byUid.get(minerUid!)).toBe(miner.address);
    expect(await storage.subnetSize(netuid)).toBe(byUid.size);
    expect(await storage.coldkeyOf(miner.address)).toBe(owner.address);
    expect(await storage.tempo(netuid)).toBeGreaterThan(0);
    expect(await storage.commitRevealEnabled(netuid)).toBe(false);
    expect((await storage.lastUpdate(netuid)).length).toBe(byUid.size);
    const registeredAt = await storage.registrationBlocks(netuid, [minerUid!]);
    expect(registeredAt[0]).toBeGreaterThan(0);
    expect(await storage.axon(netuid, miner.address)).toBeNull();
    // State at an earlier block: the subnet did not exist yet.
    const atGenesis = new SubtensorStorage(await api.at(await api.rpc.chain.getBlockHash(1)));
    expect(await atGenesis.subnetSize(netuid)).toBe(0);
  });

  it('names a storage item the runtime does not have', async () => {
    const storage = new SubtensorStorage({ query: { ...api.query, subtensorModule: {} } } as never);
    const err = await storage.tempo(netuid).catch((error: unknown) => error);
    expect(isRuntimeItemMissing(err)).toBe(true);
    expect(err).toMatchObject({ details: { path: 'SubtensorModule.tempo' } });
  });

  it('turns a runtime refusal into a coded DispatchError, transient only for rate limits', async () => {
    const validatorSender = new ExtrinsicSender(api, validator, { eraPeriod: 0 });
    await fund(validator.address);
    const uid = (await new SubtensorStorage(api).uidOf(netuid, miner.address))!;
    // Right after registration the weights rate limit (100 blocks) has not passed.
    const tooFast = await validatorSender
      .send(tx('setWeights', netuid, [uid], [65_535], 0))
      .catch((e: unknown) => e);
    expect(isDispatchError(tooFast, 'SettingWeightsTooFast')).toBe(true);
    expect(isTransientChainError(tooFast)).toBe(true);
    const noSubnet = await validatorSender
      .send(tx('setWeights', 999, [uid], [65_535], 0))
      .catch((e: unknown) => e);
    expect(isDispatchError(noSubnet)).toBe(true);
    expect(isTransientChainError(noSubnet)).toBe(false);
  });

  it('turns a pool refusal into a coded ExtrinsicRejectedError (an unfunded signer cannot pay)', async () => {
    const pauper = new Keyring({ type: 'sr25519' }).addFromUri('//Pauper');
    const err = await new ExtrinsicSender(api, pauper, { eraPeriod: 0 })
      .send(api.tx['balances']!['transferKeepAlive']!(owner.address, 1n))
      .catch((e: unknown) => e);
    expect(isExtrinsicRejected(err)).toBe(true);
    expect(err).toMatchObject({ rpcCode: 1010, kind: 'payment' });
    expect(isTransientChainError(err)).toBe(false);
  });

  it('ends a send when its signal aborts, with the signal’s reason', async () => {
    const controller = new AbortController();
    const reason = new Error('service stopping');
    controller.abort(reason);
    const err = await sender
      .send(tx('burnedRegister', netuid, owner.address), { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(err).toBe(reason);
  });

  it('commits a weights hash the runtime accepts at reveal, in the epoch the arithmetic predicts', async () => {
    const tempo = 4;
    await setStorage({
      SubtensorModule: {
        Tempo: [[[netuid], tempo]],
        CommitRevealWeightsEnabled: [[[netuid], true]],
        RevealPeriodEpochs: [[[netuid], 1]],
        WeightsSetRateLimit: [[[netuid], 1]],
      },
    });
    await newBlocks(2);
    const storage = new SubtensorStorage(api);
    const uid = (await storage.uidOf(netuid, miner.address))!;
    const validatorSender = new ExtrinsicSender(api, validator, { eraPeriod: 0 });
    const commit = {
      hotkey: validator.address,
      netuid,
      uids: [uid],
      weights: [65_535],
      salt: randomSalt(),
      versionKey: 0,
    };
    const hash = weightsCommitHash(commit);
    // Commit in the first block of an epoch, so the reveal epoch starts a whole tempo later.
    while (
      subnetEpochs.indexOf((await head()) + 1, netuid, tempo) ===
      subnetEpochs.indexOf(await head(), netuid, tempo)
    ) {
      await newBlocks(1);
    }
    const committed = await validatorSender.send(tx('commitWeights', netuid, hash));
    expect((await storage.weightCommits(netuid, validator.address)).map((entry) => entry.hash)).toEqual([
      hash,
    ]);

    const revealEpoch = subnetEpochs.revealEpochOf(committed.blockNumber, netuid, tempo, 1);
    // One block short of the reveal epoch the runtime still refuses; in it, it accepts.
    while (!subnetEpochs.revealDueAfter((await head()) + 1, netuid, tempo, revealEpoch)) await newBlocks(1);
    expect(subnetEpochs.revealDueAfter(await head(), netuid, tempo, revealEpoch)).toBe(false);
    const reveal = () =>
      tx('revealWeights', netuid, commit.uids, commit.weights, commit.salt, commit.versionKey);
    const early = await validatorSender.send(reveal()).catch((e: unknown) => e);
    expect(isDispatchError(early)).toBe(true);
    expect(subnetEpochs.revealDueAfter(await head(), netuid, tempo, revealEpoch)).toBe(true);
    const revealed = await validatorSender.send(reveal());
    expect(
      revealed.events.some(
        ({ event }) => event.method === 'WeightsRevealed' || event.method === 'WeightsSet',
      ),
    ).toBe(true);
    expect(await storage.weightCommits(netuid, validator.address)).toEqual([]);
  });
});

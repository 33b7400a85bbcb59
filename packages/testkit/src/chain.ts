import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiPromise, WsProvider } from '@polkadot/api';
import type { SubmittableExtrinsic } from '@polkadot/api/types';
import { Keyring } from '@polkadot/keyring';
import type { KeyringPair } from '@polkadot/keyring/types';
import type { EventRecord } from '@polkadot/types/interfaces';
import { cryptoWaitReady } from '@polkadot/util-crypto';
import { ExtrinsicSender } from '@tessera/bittensor';
import { raonetChainSpec, startChopsticks } from '@tessera/devservers';

/** Options for {@link startChain}. */
export interface StartChainOptions {
  /** Raw chain spec; default `CHAIN_SPEC`, else the raonet spec shipped in `@tessera/devservers`. */
  specPath?: string;
  /** Pipe chopsticks' output with a `[chain]` prefix. */
  pipeOutput?: boolean;
  /** How long to wait for the chain to serve RPC; 120 s by default (it takes ~20 s on 2 cores). */
  startTimeoutMs?: number;
}

/** Storage to write with chopsticks' `dev_setStorage`: `{ Pallet: { Item: value | [[key...], value][] } }`. */
export type StorageOverrides = Record<string, Record<string, unknown>>;

/** A local subtensor chain (chopsticks, one block per extrinsic) and helpers to set it up. */
export interface ChainHarness {
  /** `ws://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly api: ApiPromise;
  /** sr25519 keyring, SS58 format 42. */
  readonly keyring: Keyring;
  /** The pair for dev URI `//<name>` (`account('Alice')`); the same name gives the same key. */
  account(name: string): KeyringPair;
  /** Sets the free balance of `address` to `rao`, keeping its nonce. */
  fund(address: string, rao: bigint): Promise<void>;
  /** Builds `count` empty blocks; resolves with the new head's number. */
  newBlocks(count?: number): Promise<number>;
  /** Writes storage directly (`dev_setStorage`); bigints may be used for amounts. */
  setStorage(storage: StorageOverrides): Promise<void>;
  /**
   * Sends through `@tessera/bittensor`'s `ExtrinsicSender` (explicit nonces, one sender per
   * signer), waits for inclusion, throws its typed errors (`DispatchError`, …), and returns the
   * extrinsic's events.
   */
  submit(tx: SubmittableExtrinsic<'promise'>, signer: KeyringPair): Promise<EventRecord[]>;
  /** Registers a subnet owned by `ownerColdkey` (which must be funded, ~1e15 rao is ample); returns its netuid. */
  registerSubnet(ownerColdkey: KeyringPair, ownerHotkey: KeyringPair): Promise<number>;
  /** Burn-registers `hotkey` on `netuid`, paid by `coldkey` (must be funded); returns the uid. */
  registerNeuron(netuid: number, coldkey: KeyringPair, hotkey: KeyringPair): Promise<number>;
  /** Disconnects and stops the chain. */
  stop(): Promise<void>;
}

/** The monorepo root: the nearest parent of this module whose package.json declares workspaces. */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const parsed: unknown = JSON.parse(readFileSync(manifest, 'utf8'));
      if (typeof parsed === 'object' && parsed !== null && 'workspaces' in parsed) return dir;
    }
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error('could not find the monorepo root (a package.json with "workspaces")');
    dir = parent;
  }
}

async function resolveSpecPath(given: string | undefined): Promise<string> {
  const raw = given ?? process.env['CHAIN_SPEC'];
  if (raw === undefined) return raonetChainSpec();
  const path = isAbsolute(raw) ? raw : resolve(findRepoRoot(), raw);
  if (!existsSync(path)) throw new Error(`chain spec not found: ${path}`);
  return path;
}

/** JSON-RPC params cannot hold bigints; chopsticks parses decimal strings for integer storage. */
function bigintsToStrings(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return value.map(bigintsToStrings);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, bigintsToStrings(v)]));
  }
  return value;
}

function findEvent(events: EventRecord[], section: string, method: string): EventRecord {
  const found = events.find(({ event }) => event.section === section && event.method === method);
  if (!found) {
    const seen = events.map(({ event }) => `${event.section}.${event.method}`).join(', ');
    throw new Error(`expected event ${section}.${method}, got: ${seen}`);
  }
  return found;
}

function eventNumber(record: EventRecord, index: number): number {
  const field = record.event.data[index];
  if (field === undefined) throw new Error(`event ${record.event.method} has no field ${index}`);
  return Number(field.toString());
}

/**
 * Starts chopsticks on the subtensor raw chain spec (Instant block mode: every submitted
 * extrinsic builds a block) on a free port, and connects `@polkadot/api` to it.
 */
export async function startChain(opts: StartChainOptions = {}): Promise<ChainHarness> {
  const specPath = await resolveSpecPath(opts.specPath);
  const chopsticks = await startChopsticks({
    specPath,
    pipeOutput: opts.pipeOutput ?? false,
    startTimeoutMs: opts.startTimeoutMs ?? 120_000,
  });
  const endpoint = chopsticks.endpoint;

  let api: ApiPromise;
  try {
    await cryptoWaitReady();
    api = await ApiPromise.create({
      provider: new WsProvider(endpoint),
      noInitWarn: true,
      // Subtensor's own signed extensions add nothing to the payload; declaring them keeps
      // @polkadot/api from warning about them on every connect.
      signedExtensions: {
        SubtensorSignedExtension: { extrinsic: {}, payload: {} },
        CommitmentsSignedExtension: { extrinsic: {}, payload: {} },
      },
    });
  } catch (err) {
    await chopsticks.process.kill();
    throw err;
  }

  const keyring = new Keyring({ type: 'sr25519', ss58Format: 42 });

  const setStorage = async (storage: StorageOverrides): Promise<void> => {
    await api.rpc('dev_setStorage', bigintsToStrings(storage));
  };

  const headNumber = async (): Promise<number> => (await api.rpc.chain.getHeader()).number.toNumber();

  const newBlocks = async (count = 1): Promise<number> => {
    await api.rpc('dev_newBlock', { count });
    return headNumber();
  };

  const senders = new Map<string, ExtrinsicSender>();
  const submit = async (tx: SubmittableExtrinsic<'promise'>, signer: KeyringPair): Promise<EventRecord[]> => {
    let sender = senders.get(signer.address);
    if (!sender) {
      // Immortal era: a mortal one names a recent block, and when chopsticks builds a block between
      // signing and submission the proof can be refused (1010 badProof, seen under load).
      sender = new ExtrinsicSender(api, signer, { eraPeriod: 0 });
      senders.set(signer.address, sender);
    }
    return (await sender.send(tx)).events;
  };

  const harness: ChainHarness = {
    endpoint,
    api,
    keyring,
    account: (name) => keyring.addFromUri(`//${name}`),
    setStorage,
    newBlocks,
    submit,
    async fund(address, rao) {
      // Rewrite the whole AccountInfo: dev_setStorage replaces the value, so a partial
      // object would reset the nonce and break the account's next signed extrinsic.
      const current: unknown = (await api.query['system']!['account']!(address)).toJSON();
      const info =
        typeof current === 'object' && current !== null ? (current as Record<string, unknown>) : {};
      const data = typeof info['data'] === 'object' && info['data'] !== null ? info['data'] : {};
      const providers = typeof info['providers'] === 'number' ? Math.max(1, info['providers']) : 1;
      await setStorage({
        System: { Account: [[[address], { ...info, providers, data: { ...data, free: rao } }]] },
      });
    },
    async registerSubnet(ownerColdkey, ownerHotkey) {
      // NetworkRateLimit counts from genesis (10 blocks); 1 lets a fresh chain register at once.
      // Writing 0 would delete the key and bring the default back.
      await setStorage({ SubtensorModule: { NetworkRateLimit: 1 } });
      if ((await headNumber()) < 2) await newBlocks(2);
      // mechid 1: 0 fails with MechanismDoesNotExist on this runtime.
      const events = await submit(
        api.tx['subtensorModule']!['registerNetwork']!(ownerHotkey.address, 1),
        ownerColdkey,
      );
      const netuid = eventNumber(findEvent(events, 'subtensorModule', 'NetworkAdded'), 0);
      // Without this, a second registration on a new subnet is refused with 1010 custom 5.
      await setStorage({
        SubtensorModule: {
          MaxRegistrationsPerBlock: [[[netuid], 64]],
          TargetRegistrationsPerInterval: [[[netuid], 64]],
        },
      });
      return netuid;
    },
    async registerNeuron(netuid, coldkey, hotkey) {
      const events = await submit(
        api.tx['subtensorModule']!['burnedRegister']!(netuid, hotkey.address),
        coldkey,
      );
      return eventNumber(findEvent(events, 'subtensorModule', 'NeuronRegistered'), 1);
    },
    async stop() {
      await api.disconnect().catch(() => undefined);
      await chopsticks.stop();
    },
  };
  return harness;
}

import type { ApiDecoration, QueryableStorageEntry } from '@polkadot/api/types';
import type { Codec } from '@polkadot/types/types';
import { chainErrors } from './chain-errors.js';

/** Anything with storage queries: `ApiPromise` (at the head) or `api.at(hash)` (at a block). */
export type StorageView = Pick<ApiDecoration<'promise'>, 'query'>;

/** An axon as `SubtensorModule.Axons` stores it (ip is a u128; IPv4 in the low 32 bits). */
export interface StoredAxon {
  ip: bigint;
  ipType: number;
  port: number;
  protocol: number;
  version: number;
}

/** One entry of `SubtensorModule.WeightCommits`: a committed hash and the block it was committed in. */
export interface StoredWeightCommit {
  hash: string;
  commitBlock: number;
}

type Entry = QueryableStorageEntry<'promise'>;

/**
 * Typed reads of `SubtensorModule` storage, at the head or at a block. The one place that knows
 * item names and value shapes: a missing item (another runtime) or an odd value is a typed
 * error naming the item, never an `undefined` that surfaces three calls later.
 */
export class SubtensorStorage {
  constructor(private readonly view: StorageView) {}

  /** Blocks per epoch of `netuid`. */
  async tempo(netuid: number): Promise<number> {
    return integer('tempo', await this.item('tempo')(netuid));
  }

  /** How many uids `netuid` has (`SubnetworkN`). */
  async subnetSize(netuid: number): Promise<number> {
    return integer('subnetworkN', await this.item('subnetworkN')(netuid));
  }

  /** The coldkey owning `hotkey` (`Owner`). */
  async coldkeyOf(hotkey: string): Promise<string> {
    return (await this.item('owner')(hotkey)).toString();
  }

  /** The hotkey holding `uid` on `netuid` (`Keys`). */
  async hotkeyAt(netuid: number, uid: number): Promise<string> {
    return (await this.item('keys')(netuid, uid)).toString();
  }

  /** Every uid of `netuid` with its hotkey (`Keys` entries). */
  async hotkeysByUid(netuid: number): Promise<Map<number, string>> {
    const entries = await this.item('keys').entries(netuid);
    const byUid = new Map<number, string>();
    for (const [key, value] of entries) {
      const uid = key.args[1];
      if (uid === undefined) throw chainErrors.unexpectedValue('keys', 'a (netuid, uid) key', key.toHuman());
      byUid.set(integer('keys uid', uid), value.toString());
    }
    return byUid;
  }

  /** The uid of `hotkey` on `netuid`, or undefined when it is not registered there (`Uids`). */
  async uidOf(netuid: number, hotkey: string): Promise<number | undefined> {
    const value = await this.item('uids')(netuid, hotkey);
    const json = value.toJSON();
    return json === null ? undefined : integer('uids', value);
  }

  /** The axon `hotkey` serves on `netuid`, or null when none is stored (`Axons`). */
  async axon(netuid: number, hotkey: string): Promise<StoredAxon | null> {
    const json = (await this.item('axons')(netuid, hotkey)).toJSON();
    if (json === null) return null;
    if (typeof json !== 'object' || Array.isArray(json))
      throw chainErrors.unexpectedValue('axons', 'an AxonInfo', json);
    const field = (name: string): number => {
      const value = (json as Record<string, unknown>)[name];
      if (typeof value !== 'number') throw chainErrors.unexpectedValue(`axons.${name}`, 'a number', value);
      return value;
    };
    const ip = (json as Record<string, unknown>)['ip'];
    if (typeof ip !== 'number' && typeof ip !== 'string')
      throw chainErrors.unexpectedValue('axons.ip', 'a u128', ip);
    return {
      ip: BigInt(ip),
      ipType: field('ipType'),
      port: field('port'),
      protocol: field('protocol'),
      version: field('version'),
    };
  }

  /** The block each uid registered at (`BlockAtRegistration`), in the order of `uids`, in one round trip. */
  async registrationBlocks(netuid: number, uids: readonly number[]): Promise<number[]> {
    if (uids.length === 0) return [];
    const values = await this.item('blockAtRegistration').multi(uids.map((uid) => [netuid, uid]));
    return values.map((value) => integer('blockAtRegistration', value));
  }

  /** Whether `netuid` takes weights as commit, then reveal (`CommitRevealWeightsEnabled`). */
  async commitRevealEnabled(netuid: number): Promise<boolean> {
    return (await this.item('commitRevealWeightsEnabled')(netuid)).toJSON() === true;
  }

  /** Epochs between a commit and its reveal (`RevealPeriodEpochs`). */
  async revealPeriodEpochs(netuid: number): Promise<number> {
    return integer('revealPeriodEpochs', await this.item('revealPeriodEpochs')(netuid));
  }

  /** Blocks a validator must wait between two weight settings (`WeightsSetRateLimit`). */
  async weightsSetRateLimit(netuid: number): Promise<number> {
    return integer('weightsSetRateLimit', await this.item('weightsSetRateLimit')(netuid));
  }

  /** The block each uid last set weights (or registered), by uid (`LastUpdate`). */
  async lastUpdate(netuid: number): Promise<number[]> {
    const json = (await this.item('lastUpdate')(netuid)).toJSON();
    if (!Array.isArray(json) || !json.every((value) => typeof value === 'number')) {
      throw chainErrors.unexpectedValue('lastUpdate', 'a list of block numbers', json);
    }
    return json as number[];
  }

  /** The commits `hotkey` has made on `netuid` and not yet revealed (`WeightCommits`). */
  async weightCommits(netuid: number, hotkey: string): Promise<StoredWeightCommit[]> {
    const json = (await this.item('weightCommits')(netuid, hotkey)).toJSON();
    if (json === null) return [];
    if (!Array.isArray(json)) throw chainErrors.unexpectedValue('weightCommits', 'a list of commits', json);
    // Entries are (hash, commit block, first reveal block, last reveal block) on this era's runtimes.
    return json.map((entry) => {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number') {
        throw chainErrors.unexpectedValue('weightCommits', '(hash, commit block, …)', entry);
      }
      return { hash: entry[0], commitBlock: entry[1] };
    });
  }

  private item(name: string): Entry {
    const entry = this.view.query['subtensorModule']?.[name];
    if (!entry) throw chainErrors.runtimeItemMissing('storage', `SubtensorModule.${name}`);
    return entry;
  }
}

function integer(path: string, value: Codec): number {
  const json = value.toJSON();
  if (typeof json === 'number' && Number.isSafeInteger(json)) return json;
  const text = value.toString();
  if (/^\d+$/.test(text) && Number.isSafeInteger(Number(text))) return Number(text);
  throw chainErrors.unexpectedValue(path, 'an integer', json);
}

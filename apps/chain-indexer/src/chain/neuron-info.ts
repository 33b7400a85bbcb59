import { TypeRegistry } from '@polkadot/types';
import type { Codec } from '@polkadot/types/types';
import { compactFromU8a } from '@polkadot/util';
import { type EventDataOf, type MetagraphSynced } from '@tessera/contracts';
import { ipToText } from './ip.js';

/** A metagraph neuron as the contracts carry it. */
export type Neuron = EventDataOf<typeof MetagraphSynced>['neurons'][number];

/**
 * Subtensor's `NeuronInfoLite` SCALE layout (pallets/subtensor rpc_info/neuron_info.rs). Runtimes
 * of the raonet era return `Vec<u8>` from `neuronInfoRuntimeApi.getNeuronsLite`, so the bytes are
 * decoded here; later runtimes return the typed struct with the same fields.
 */
const neuronInfoTypes = {
  TesseraAxonInfo: {
    block: 'u64',
    version: 'u32',
    ip: 'u128',
    port: 'u16',
    ipType: 'u8',
    protocol: 'u8',
    placeholder1: 'u8',
    placeholder2: 'u8',
  },
  TesseraPrometheusInfo: { block: 'u64', version: 'u32', ip: 'u128', port: 'u16', ipType: 'u8' },
  TesseraNeuronInfoLite: {
    hotkey: 'AccountId32',
    coldkey: 'AccountId32',
    uid: 'Compact<u16>',
    netuid: 'Compact<u16>',
    active: 'bool',
    axonInfo: 'TesseraAxonInfo',
    prometheusInfo: 'TesseraPrometheusInfo',
    stake: 'Vec<(AccountId32, Compact<u64>)>',
    rank: 'Compact<u16>',
    emission: 'Compact<u64>',
    incentive: 'Compact<u16>',
    consensus: 'Compact<u16>',
    trust: 'Compact<u16>',
    validatorTrust: 'Compact<u16>',
    dividends: 'Compact<u16>',
    lastUpdate: 'Compact<u64>',
    validatorPermit: 'bool',
    pruningScore: 'Compact<u16>',
  },
};

const registries = new Map<number, TypeRegistry>();

function registryFor(ss58Format: number): TypeRegistry {
  let registry = registries.get(ss58Format);
  if (!registry) {
    registry = new TypeRegistry();
    registry.register(neuronInfoTypes);
    registry.setChainProperties(
      registry.createType('ChainProperties', { ss58Format, tokenDecimals: 9, tokenSymbol: 'TAO' }) as never,
    );
    registries.set(ss58Format, registry);
  }
  return registry;
}

/** The fields of `NeuronInfoLite` the metagraph keeps, in plain values. */
export interface NeuronInfoLite {
  uid: number;
  hotkey: string;
  coldkey: string;
  active: boolean;
  axon: { ip: bigint; ipType: number; port: number; protocol: number; version: number };
  stake: bigint;
  emission: bigint;
  incentive: number;
  dividends: number;
  lastUpdate: number;
  validatorPermit: boolean;
}

function field(struct: Codec, name: string): Codec {
  const value = (struct as unknown as { get(key: string): Codec | undefined }).get(name);
  if (value === undefined) throw new Error(`NeuronInfoLite has no field ${name}`);
  return value;
}

const big = (codec: Codec): bigint => BigInt(codec.toString());
const num = (codec: Codec): number => Number(codec.toString());

function fromStruct(struct: Codec): NeuronInfoLite {
  const axon = field(struct, 'axonInfo');
  const stakes = field(struct, 'stake') as unknown as Iterable<Codec & { 1: Codec }>;
  let stake = 0n;
  for (const entry of stakes) stake += big(entry[1]);
  return {
    uid: num(field(struct, 'uid')),
    hotkey: field(struct, 'hotkey').toString(),
    coldkey: field(struct, 'coldkey').toString(),
    active: field(struct, 'active').toString() === 'true',
    axon: {
      ip: big(field(axon, 'ip')),
      ipType: num(field(axon, 'ipType')),
      port: num(field(axon, 'port')),
      protocol: num(field(axon, 'protocol')),
      version: num(field(axon, 'version')),
    },
    stake,
    emission: big(field(struct, 'emission')),
    incentive: num(field(struct, 'incentive')),
    dividends: num(field(struct, 'dividends')),
    lastUpdate: num(field(struct, 'lastUpdate')),
    validatorPermit: field(struct, 'validatorPermit').toString() === 'true',
  };
}

/**
 * The raonet runtime SCALE-encodes its `Vec<u8>` once more inside the API's own `Vec<u8>`: when
 * the content is exactly one length-prefixed byte string, take what is inside.
 */
function unwrapBytes(content: Uint8Array): Uint8Array {
  const [offset, length] = compactFromU8a(content);
  return offset + length.toNumber() === content.length ? content.subarray(offset) : content;
}

/**
 * Reads the result of `getNeuronsLite`: SCALE bytes (raonet-era runtimes) or the typed vector
 * (later ones). Addresses are rendered with `ss58Format`.
 */
export function decodeNeuronsLite(result: Codec, ss58Format: number): NeuronInfoLite[] {
  if (result.toRawType() === 'Bytes') {
    const bytes = unwrapBytes((result as unknown as { toU8a(bare: boolean): Uint8Array }).toU8a(true));
    if (bytes.length === 0) return [];
    const decoded = registryFor(ss58Format).createType('Vec<TesseraNeuronInfoLite>', bytes);
    return [...(decoded as unknown as Iterable<Codec>)].map(fromStruct);
  }
  return [...(result as unknown as Iterable<Codec>)].map(fromStruct);
}

/** SCALE-encodes neurons the way the runtime does (tests and the benchmark build fixtures with it). */
export function encodeNeuronsLite(neurons: readonly Record<string, unknown>[]): Uint8Array {
  return registryFor(42).createType('Vec<TesseraNeuronInfoLite>', neurons).toU8a();
}

/** The axon as the contracts carry it, or null when none is served. */
export function axonOf(axon: NeuronInfoLite['axon']): Neuron['axon'] {
  if (axon.ip === 0n || (axon.ipType !== 4 && axon.ipType !== 6)) return null;
  return {
    ip: ipToText(axon.ip, axon.ipType),
    ipType: axon.ipType,
    port: axon.port,
    protocol: axon.protocol,
    version: axon.version,
  };
}

/** A metagraph neuron from `NeuronInfoLite` plus its registration block (not part of the lite info). */
export function toNeuron(info: NeuronInfoLite, registrationBlock: number): Neuron {
  return {
    uid: info.uid,
    hotkey: info.hotkey,
    coldkey: info.coldkey,
    stake: info.stake.toString(),
    axon: axonOf(info.axon),
    validatorPermit: info.validatorPermit,
    incentive: info.incentive,
    dividends: info.dividends,
    emission: info.emission.toString(),
    lastUpdate: info.lastUpdate,
    active: info.active,
    registrationBlock,
  };
}

/**
 * Neurons from `subnetInfoRuntimeApi.getMetagraph` (runtimes after raonet): one struct of
 * per-uid vectors, read from its JSON form. Written against subtensor's `Metagraph` struct;
 * the raonet runtime lacks the call, so only unit specs exercise it.
 */
export function neuronsFromMetagraphJson(json: unknown): Neuron[] {
  if (typeof json !== 'object' || json === null) return [];
  const m = json as Record<string, unknown>;
  const list = (key: string): unknown[] => (Array.isArray(m[key]) ? (m[key] as unknown[]) : []);
  const hotkeys = list('hotkeys');
  const coldkeys = list('coldkeys');
  const axons = list('axons');
  const stake = list('totalStake').length > 0 ? list('totalStake') : list('alphaStake');
  return hotkeys.map((hotkey, uid) => {
    const axon = (axons[uid] ?? {}) as Record<string, unknown>;
    return toNeuron(
      {
        uid,
        hotkey: String(hotkey),
        coldkey: String(coldkeys[uid]),
        active: list('active')[uid] === true,
        axon: {
          ip: BigInt(String(axon['ip'] ?? 0)),
          ipType: Number(axon['ipType'] ?? 0),
          port: Number(axon['port'] ?? 0),
          protocol: Number(axon['protocol'] ?? 0),
          version: Number(axon['version'] ?? 0),
        },
        stake: BigInt(String(stake[uid] ?? 0)),
        emission: BigInt(String(list('emission')[uid] ?? 0)),
        incentive: Number(list('incentives')[uid] ?? 0),
        dividends: Number(list('dividends')[uid] ?? 0),
        lastUpdate: Number(list('lastUpdate')[uid] ?? 0),
        validatorPermit: list('validatorPermit')[uid] === true,
      },
      Number(list('blockAtRegistration')[uid] ?? 0),
    );
  });
}

import { TypeRegistry } from '@polkadot/types';
import { compactAddLength } from '@polkadot/util';
import { describe, expect, it } from 'vitest';
import { decodeNeuronsLite, encodeNeuronsLite, neuronsFromMetagraphJson, toNeuron } from './neuron-info.js';

const HOT = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';
const COLD = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty';
const neuron = {
  hotkey: HOT,
  coldkey: COLD,
  uid: 3,
  netuid: 2,
  active: true,
  axonInfo: {
    block: 9,
    version: 7,
    ip: 3405803783n,
    port: 8091,
    ipType: 4,
    protocol: 0,
    placeholder1: 0,
    placeholder2: 0,
  },
  prometheusInfo: { block: 0, version: 0, ip: 0, port: 0, ipType: 0 },
  stake: [
    [COLD, 40n],
    [HOT, 2n],
  ],
  rank: 0,
  emission: 123_456_789_000n,
  incentive: 65535,
  consensus: 0,
  trust: 0,
  validatorTrust: 0,
  dividends: 12,
  lastUpdate: 77,
  validatorPermit: true,
  pruningScore: 0,
};

describe('decodeNeuronsLite', () => {
  const registry = new TypeRegistry();

  it('given the raonet runtime bytes (a Vec<u8> wrapped once more), decodes every neuron', () => {
    // What the runtime API returns: Bytes whose content is itself a length-prefixed Vec<u8>.
    const wrapped = registry.createType(
      'Bytes',
      compactAddLength(compactAddLength(encodeNeuronsLite([neuron]))),
    );
    const [decoded] = decodeNeuronsLite(wrapped, 42);
    expect(decoded).toMatchObject({
      uid: 3,
      hotkey: HOT,
      coldkey: COLD,
      stake: 42n,
      emission: 123_456_789_000n,
      lastUpdate: 77,
    });
    expect(toNeuron(decoded!, 5)).toEqual({
      uid: 3,
      hotkey: HOT,
      coldkey: COLD,
      stake: '42',
      axon: { ip: '203.0.113.7', ipType: 4, port: 8091, protocol: 0, version: 7 },
      validatorPermit: true,
      incentive: 65535,
      dividends: 12,
      emission: '123456789000',
      lastUpdate: 77,
      active: true,
      registrationBlock: 5,
    });
  });

  it('given an empty subnet, returns no neurons', () => {
    const wrapped = registry.createType('Bytes', compactAddLength(compactAddLength(encodeNeuronsLite([]))));
    expect(decodeNeuronsLite(wrapped, 42)).toEqual([]);
  });
});

describe('neuronsFromMetagraphJson', () => {
  it('maps the per-uid vectors of getMetagraph onto neurons', () => {
    const neurons = neuronsFromMetagraphJson({
      hotkeys: [HOT],
      coldkeys: [COLD],
      axons: [{ ip: 0, ipType: 0, port: 0, protocol: 0, version: 0 }],
      active: [true],
      validatorPermit: [false],
      totalStake: [1000],
      emission: [5],
      incentives: [10],
      dividends: [0],
      lastUpdate: [44],
      blockAtRegistration: [40],
    });
    expect(neurons).toEqual([
      {
        uid: 0,
        hotkey: HOT,
        coldkey: COLD,
        stake: '1000',
        axon: null,
        validatorPermit: false,
        incentive: 10,
        dividends: 0,
        emission: '5',
        lastUpdate: 44,
        active: true,
        registrationBlock: 40,
      },
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { parseAxonIp } from './axon-address.js';

describe('parseAxonIp', () => {
  it('reads IPv4 into the low 32 bits', () => {
    expect(parseAxonIp('203.0.113.7')).toEqual({ ip: 3405803783n, ipType: 4 });
    expect(parseAxonIp('0.0.0.1')).toEqual({ ip: 1n, ipType: 4 });
  });

  it('reads IPv6 with and without zero compression', () => {
    expect(parseAxonIp('2001:db8::1')).toEqual({ ip: 0x20010db8000000000000000000000001n, ipType: 6 });
    expect(parseAxonIp('2001:db8:0:0:0:0:0:1').ip).toBe(parseAxonIp('2001:db8::1').ip);
    expect(parseAxonIp('::1').ip).toBe(1n);
    expect(parseAxonIp('fe80::').ip).toBe(0xfe80n << 112n);
    expect(parseAxonIp('::ffff:192.0.2.1').ip).toBe(0xffffc0000201n);
  });

  it('refuses what is not an address', () => {
    expect(() => parseAxonIp('example.com')).toThrow(RangeError);
    expect(() => parseAxonIp('1.2.3.256')).toThrow(RangeError);
  });
});

import { describe, expect, it } from 'vitest';
import { ipToText, ipv4ToBigint } from './ip.js';

describe('ipToText', () => {
  it('renders an IPv4 documentation address from the runtime u128', () => {
    expect(ipToText(3405803783n, 4)).toBe('203.0.113.7');
    expect(ipv4ToBigint('203.0.113.7')).toBe(3405803783n);
  });

  it('renders IPv6 in RFC 5952 form: lower case, longest zero run compressed', () => {
    expect(ipToText(0x20010db8000000000000000000000001n, 6)).toBe('2001:db8::1');
    expect(ipToText(0x20010db8000100000000000100000001n, 6)).toBe('2001:db8:1::1:0:1');
    expect(ipToText(0x20010db8000000010000000000000000n, 6)).toBe('2001:db8:0:1::');
    expect(ipToText(1n, 6)).toBe('::1');
    expect(ipToText(0x20010db8111122223333444455556666n, 6)).toBe('2001:db8:1111:2222:3333:4444:5555:6666');
  });

  it('refuses values that do not fit the type', () => {
    expect(() => ipToText(1n << 32n, 4)).toThrow(RangeError);
    expect(() => ipToText(1n << 128n, 6)).toThrow(RangeError);
  });
});

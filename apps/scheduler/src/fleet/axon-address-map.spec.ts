import { describe, expect, it } from 'vitest';
import { minerBaseUrl, parseAddressMap } from './axon-address-map.js';

describe('axon address map', () => {
  it('maps announced documentation addresses to local ports, IPv6 included', () => {
    const map = parseAddressMap('203.0.113.1:8091=127.0.0.1:40001, [2001:DB8::1]:443=localhost:40002');
    expect(minerBaseUrl({ ip: '203.0.113.1', port: 8091 }, map)).toBe('http://127.0.0.1:40001');
    expect(minerBaseUrl({ ip: '2001:db8::1', port: 443 }, map)).toBe('http://localhost:40002');
  });

  it('reaches unmapped axons at their announced address', () => {
    const map = parseAddressMap('');
    expect(minerBaseUrl({ ip: '198.51.100.4', port: 8091 }, map)).toBe('http://198.51.100.4:8091');
    expect(minerBaseUrl({ ip: '2001:db8::2', port: 8091 }, map)).toBe('http://[2001:db8::2]:8091');
  });

  it('refuses malformed entries', () => {
    expect(() => parseAddressMap('203.0.113.1=127.0.0.1:1')).toThrow(RangeError);
    expect(() => parseAddressMap('203.0.113.1:1=127.0.0.1:99999')).toThrow(RangeError);
    expect(() => parseAddressMap('a:1=b:2=c:3')).toThrow(RangeError);
  });
});

import { describe, expect, it } from 'vitest';
import { formatApiKey, hashApiKeySecret, parseApiKey, verifyApiKeySecret } from './api-key-format.js';

const PEPPER = 'test-pepper-0123456789';
const SECRET = 'A'.repeat(43);

/** The stored hash with its last byte changed. */
function lastByteFlipped(hash: string): string {
  const last = parseInt(hash.slice(-2), 16) ^ 0x01;
  return `${hash.slice(0, -2)}${last.toString(16).padStart(2, '0')}`;
}

describe('API key secrets', () => {
  it('verifies the secret against its own hash', () => {
    expect(verifyApiKeySecret(PEPPER, SECRET, hashApiKeySecret(PEPPER, SECRET))).toBe(true);
  });

  it('refuses a stored hash that differs only in its last byte (the whole HMAC is compared)', () => {
    const stored = lastByteFlipped(hashApiKeySecret(PEPPER, SECRET));
    expect(stored.slice(0, -2)).toBe(hashApiKeySecret(PEPPER, SECRET).slice(0, -2));
    expect(verifyApiKeySecret(PEPPER, SECRET, stored)).toBe(false);
  });

  it('refuses stored hashes of another length, shorter (a prefix) or longer', () => {
    const hash = hashApiKeySecret(PEPPER, SECRET);
    expect(verifyApiKeySecret(PEPPER, SECRET, hash.slice(0, 32))).toBe(false);
    expect(verifyApiKeySecret(PEPPER, SECRET, `${hash}00`)).toBe(false);
    expect(verifyApiKeySecret(PEPPER, SECRET, '')).toBe(false);
  });

  it('refuses the right secret under another pepper', () => {
    expect(verifyApiKeySecret(`${PEPPER}x`, SECRET, hashApiKeySecret(PEPPER, SECRET))).toBe(false);
  });

  it('parses only well-formed keys', () => {
    const key = formatApiKey('abcdefghij012345', SECRET);
    expect(parseApiKey(key)).toEqual({ keyId: 'abcdefghij012345', secret: SECRET });
    expect(parseApiKey(`${key}x`)).toBeUndefined();
    expect(parseApiKey(key.replace('tsk_', 'tsx_'))).toBeUndefined();
  });
});

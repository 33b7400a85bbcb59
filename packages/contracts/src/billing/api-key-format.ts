import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * API keys look like `tsk_<keyId>_<secret>`: the key id is public (it names the key in lists,
 * logs and events), the secret is 43 base64url characters (32 random bytes) shown once.
 */
const KEY_PATTERN = /^tsk_([a-z0-9]{16})_([A-Za-z0-9_-]{43})$/;

/** The parts of a presented key, or undefined when it is not shaped like one. */
export function parseApiKey(presented: string): { keyId: string; secret: string } | undefined {
  const match = KEY_PATTERN.exec(presented);
  if (!match?.[1] || !match[2]) return undefined;
  return { keyId: match[1], secret: match[2] };
}

/** Formats a key from its parts. */
export function formatApiKey(keyId: string, secret: string): string {
  return `tsk_${keyId}_${secret}`;
}

/** The stored form of a key secret: HMAC-SHA256 keyed with the platform's pepper, hex. */
export function hashApiKeySecret(pepper: string, secret: string): string {
  return createHmac('sha256', pepper).update(secret).digest('hex');
}

/** Compares a presented secret with a stored hash in constant time. */
export function verifyApiKeySecret(pepper: string, secret: string, storedHash: string): boolean {
  const presented = Buffer.from(hashApiKeySecret(pepper, secret), 'hex');
  const stored = Buffer.from(storedHash, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

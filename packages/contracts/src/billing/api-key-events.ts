import { z } from 'zod';
import { defineEvent } from '../define-event.js';
import { accountIdSchema, apiKeyIdSchema, apiKeyLimitsSchema, apiKeyScopeSchema } from './primitives.js';

/**
 * An API key was issued. Carries everything a proxy needs to verify the key locally — the
 * keyed hash of the secret, scopes, limits and expiry — and never the secret itself.
 */
export const ApiKeyIssued = defineEvent({
  type: 'billing.ApiKeyIssued',
  version: 1,
  data: z.object({
    accountId: accountIdSchema,
    keyId: apiKeyIdSchema,
    name: z.string().max(200),
    /** HMAC-SHA256(API_KEY_PEPPER, secret), lower-case hex. */
    secretHash: z.string().regex(/^[0-9a-f]{64}$/),
    scopes: z.array(apiKeyScopeSchema).min(1).max(10),
    limits: apiKeyLimitsSchema,
    /** ISO time after which the key is refused; null for no expiry. */
    expiresAt: z.iso.datetime().nullable(),
  }),
});

/** The key is refused from now on, everywhere. */
export const ApiKeyRevoked = defineEvent({
  type: 'billing.ApiKeyRevoked',
  version: 1,
  data: z.object({ accountId: accountIdSchema, keyId: apiKeyIdSchema }),
});

import { createHmac } from 'node:crypto';

/** Shortest `INSTANCE_TOKEN_SECRET` accepted: 32 characters (the HMAC key of every instance token). */
export const MIN_INSTANCE_TOKEN_SECRET_LENGTH = 32;

/**
 * The bearer token of an instance's data plane: HMAC-SHA256 of the platform's
 * `INSTANCE_TOKEN_SECRET` over the instance id, base64url, prefixed `tsi_`. The scheduler hands it
 * to the miner in the signed launch; the inference proxy derives the same token to call the
 * instance, so no token is stored or sent in an event, and the hot path needs no public-key
 * cryptography. One instance's token opens no other instance.
 */
export function instanceToken(secret: string, instanceId: string): string {
  if (secret.length < MIN_INSTANCE_TOKEN_SECRET_LENGTH) {
    throw new RangeError(
      `the instance token secret must have at least ${MIN_INSTANCE_TOKEN_SECRET_LENGTH} characters`,
    );
  }
  const mac = createHmac('sha256', secret)
    .update(`tessera:instance-token:v1:${instanceId}`)
    .digest('base64url');
  return `tsi_${mac}`;
}

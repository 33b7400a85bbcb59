// The service's NATS connection against a real nats-server that enforces the generated
// permissions: the nkey from NATS_NKEY_SEED, the service's own inbox, several servers in NATS_URL.
import { Writable } from 'node:stream';
import { isValidationError, type ValidationError } from '@tessera/contracts';
import {
  createNatsIdentityKeys,
  natsAuthorization,
  publicKeysOf,
  startNatsServer,
  type NatsIdentityKeys,
  type NatsServerHandle,
} from '@tessera/devservers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessagingConfig, type RawEnv } from '../config/define-config.js';
import { createLogger } from '../logging/logger.js';
import { connectNats, natsConnectionOptions } from './nats.module.js';

function captureLogger(): { logger: ReturnType<typeof createLogger>; text: () => string } {
  let text = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { logger: createLogger({ service: 'billing', destination }), text: () => text };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('natsConnectionOptions', () => {
  const base = { SERVICE_NAME: 'billing', NATS_URL: 'nats://a:4222, nats://b:4222' } as const;

  it('lists every server of NATS_URL and gives the service its own inbox prefix', () => {
    const options = natsConnectionOptions({ ...base, NODE_ENV: 'development' });
    expect(options.servers).toEqual(['nats://a:4222', 'nats://b:4222']);
    expect(options.inboxPrefix).toBe('_INBOX_billing');
    expect(options.authenticator).toBeUndefined();
  });

  it('refuses to connect without credentials in production, naming the variable', () => {
    const err = thrown(() => natsConnectionOptions({ ...base, NODE_ENV: 'production' }));
    expect(isValidationError(err)).toBe(true);
    expect((err as ValidationError).issues.map((issue) => issue.path)).toEqual(['NATS_NKEY_SEED']);
  });
});

describe('connectNats against a server with generated permissions', () => {
  let keys: NatsIdentityKeys;
  let server: NatsServerHandle;

  beforeAll(async () => {
    keys = createNatsIdentityKeys();
    server = await startNatsServer({
      authorization: natsAuthorization({ keys: { publicKeys: publicKeysOf(keys) } }),
    });
  });

  afterAll(async () => {
    await server?.stop();
  });

  const config = (env: RawEnv) =>
    MessagingConfig.load({ SERVICE_NAME: 'billing', NATS_URL: server.url, ...env });

  it('connects as the identity of NATS_NKEY_SEED, gets replies on its own inbox, and never logs the seed', async () => {
    const log = captureLogger();
    const seed = keys.billing.seed;
    // The first server is down: the client moves on to the next one of the list.
    const nc = await connectNats(
      config({ NATS_URL: `nats://127.0.0.1:1,${server.url}`, NATS_NKEY_SEED: seed, NODE_ENV: 'production' }),
      log.logger,
    );
    try {
      nc.subscribe('rpc.billing.chargeGpuUsage', {
        callback: (_err, msg) => {
          msg.respond('pong');
        },
      });
      const scheduler = await connectNats(
        config({ SERVICE_NAME: 'scheduler', NATS_NKEY_SEED: keys.scheduler.seed }),
        log.logger,
      );
      try {
        // The scheduler may charge GPU usage; billing answers into `_INBOX_scheduler`.
        const reply = await scheduler.request('rpc.billing.chargeGpuUsage', '', { timeout: 2_000 });
        expect(reply.string()).toBe('pong');
      } finally {
        await scheduler.close();
      }
    } finally {
      await nc.close();
    }
    expect(log.text()).toContain('"authenticated":true');
    expect(log.text()).toContain('"inboxPrefix":"_INBOX_billing"');
    expect(log.text()).not.toContain(seed);
    // Even a config logged whole keeps the seed out.
    log.logger.info({ config: config({ NATS_NKEY_SEED: seed }) }, 'config');
    expect(log.text()).not.toContain(seed);
  });

  it('fails instead of waiting for ever when the server refuses the credentials', async () => {
    const log = captureLogger();
    await expect(connectNats(config({}), log.logger)).rejects.toThrow(/Authorization/i);
    const stranger = createNatsIdentityKeys().billing.seed;
    await expect(connectNats(config({ NATS_NKEY_SEED: stranger }), log.logger)).rejects.toThrow(
      /Authorization/i,
    );
  });
});

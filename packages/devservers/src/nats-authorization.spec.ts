// A real nats-server started from the generated authorization block: each identity connects with
// its own nkey and the server, not the client, refuses what the permissions table does not allow.
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import {
  connect,
  nkeyAuthenticator,
  PermissionViolationError,
  type NatsConnection,
  type Subscription,
} from '@nats-io/transport-node';
import { inboxPrefix, leaseBucket, snapshotBucket, type NatsIdentity } from '@tessera/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsAuthorization } from './nats-authorization.js';
import { createNatsIdentityKeys, createNatsUserKey, publicKeysOf } from './nats-identity-keys.js';
import { startNatsServer, type NatsServerHandle } from './nats.js';

const encoder = new TextEncoder();

/** A refused request rejects with a RequestError whose cause is the server's permission error. */
function isPermissionViolation(err: unknown): boolean {
  for (let cause = err; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof PermissionViolationError) return true;
  }
  return false;
}

/** The error a refused subscription closes with (undefined when the server accepted it). */
async function subscriptionRefusal(nc: NatsConnection, subject: string): Promise<Error | undefined> {
  const sub: Subscription = nc.subscribe(subject);
  await nc.flush();
  // The server answers a refused SUB with -ERR before the PONG of the next flush.
  await nc.flush();
  const closed = await Promise.race([
    sub.closed,
    new Promise<'open'>((resolve) => setTimeout(resolve, 300, 'open')),
  ]);
  if (closed === 'open') {
    sub.unsubscribe();
    return undefined;
  }
  return closed instanceof Error ? closed : new Error('closed without an error');
}

describe.each([
  ['without a namespace', ''],
  ['with a test namespace', 'tauthns1'],
])('generated NATS authorization, %s', (_label, namespace) => {
  const keys = createNatsIdentityKeys();
  const harnessKey = createNatsUserKey();
  const subject = (logical: string) => (namespace === '' ? logical : `${namespace}.${logical}`);
  const stream = (name: string) => (namespace === '' ? name : `${namespace}_${name}`);
  const bucket = stream;
  let server: NatsServerHandle;
  const connections: NatsConnection[] = [];

  const connectAs = async (identity: NatsIdentity): Promise<NatsConnection> => {
    const nc = await connect({
      servers: server.url,
      authenticator: nkeyAuthenticator(encoder.encode(keys[identity].seed)),
      inboxPrefix: inboxPrefix(identity),
      name: identity,
    });
    connections.push(nc);
    return nc;
  };

  beforeAll(async () => {
    server = await startNatsServer({
      pipeOutput: process.env['TESSERA_DEVSERVERS_LOG'] === '1',
      authorization: natsAuthorization({
        keys: { publicKeys: publicKeysOf(keys) },
        namespace,
        unrestrictedPublicKeys: [harnessKey.publicKey],
      }),
    });
  });

  afterAll(async () => {
    await Promise.allSettled(connections.map((nc) => nc.close()));
    await server?.stop();
  });

  it('refuses a client without a known nkey', async () => {
    await expect(connect({ servers: server.url, reconnect: false })).rejects.toThrow(/Authorization/i);
    const stranger = createNatsUserKey();
    await expect(
      connect({
        servers: server.url,
        reconnect: false,
        authenticator: nkeyAuthenticator(encoder.encode(stranger.seed)),
      }),
    ).rejects.toThrow(/Authorization/i);
  });

  it('lets only the chain indexer append to CHAIN, and billing read it with a consumer', async () => {
    const indexer = await connectAs('chain-indexer');
    const indexerJsm = await jetstreamManager(indexer);
    await indexerJsm.streams.add({
      name: stream('CHAIN'),
      subjects: [subject('chain.>')],
      allow_direct: true,
    });
    const ack = await jetstream(indexer).publish(subject('chain.transfer.block-1'), '{"ok":true}');
    expect(ack.seq).toBe(1);

    const proxy = await connectAs('inference-proxy');
    const refused = await jetstream(proxy)
      .publish(subject('chain.transfer.block-2'), '{"forged":true}')
      .catch((err: unknown) => err);
    expect(isPermissionViolation(refused)).toBe(true);
    const billing = await connectAs('billing');
    const refusedToo = await jetstream(billing)
      .publish(subject('chain.transfer.block-2'), '{"forged":true}')
      .catch((err: unknown) => err);
    expect(isPermissionViolation(refusedToo)).toBe(true);

    // Billing reads CHAIN: an ordered consumer, and a durable pull consumer it acks.
    const ordered = await jetstream(billing).consumers.get(stream('CHAIN'));
    const first = await ordered.next({ expires: 5_000 });
    expect(first?.json()).toEqual({ ok: true });
    const billingJsm = await jetstreamManager(billing);
    await billingJsm.consumers.add(stream('CHAIN'), {
      durable_name: 'billing-deposits',
      ack_policy: AckPolicy.Explicit,
    });
    const durable = await jetstream(billing).consumers.get(stream('CHAIN'), 'billing-deposits');
    const message = await durable.next({ expires: 5_000 });
    expect(message?.seq).toBe(1);
    expect(await message?.ackAck()).toBe(true);
    const direct = await billingJsm.direct.getMessage(stream('CHAIN'), {
      last_by_subj: subject('chain.transfer.block-1'),
    });
    expect(direct?.seq).toBe(1);

    const harness = await connect({
      servers: server.url,
      authenticator: nkeyAuthenticator(encoder.encode(harnessKey.seed)),
    });
    connections.push(harness);
    const info = await (await jetstreamManager(harness)).streams.info(stream('CHAIN'));
    expect(info.state.messages).toBe(1);
  });

  it('refuses operator-only RPCs to every service, and lets the operator call them', async () => {
    const billing = await connectAs('billing');
    const served: string[] = [];
    billing.subscribe(subject('rpc.billing.>'), {
      callback: (_err, msg) => {
        served.push(msg.subject);
        msg.respond('{"ok":true}');
      },
    });
    await billing.flush();

    const proxy = await connectAs('inference-proxy');
    for (const refused of [
      'rpc.billing.creditAccount',
      'rpc.billing.setTaoPrice',
      'rpc.billing.replayDeadLetters',
    ]) {
      const result = await proxy
        .request(subject(refused), '{}', { timeout: 2_000 })
        .catch((err: unknown) => err);
      expect(isPermissionViolation(result), refused).toBe(true);
    }
    const answer = await proxy.request(subject('rpc.billing.getAccount'), '{}', { timeout: 2_000 });
    expect(answer.json()).toEqual({ ok: true });
    // A service that calls nothing in billing is refused even a read.
    const scorer = await connectAs('scorer');
    const scorerCall = await scorer
      .request(subject('rpc.billing.getAccount'), '{}', { timeout: 2_000 })
      .catch((err: unknown) => err);
    expect(isPermissionViolation(scorerCall)).toBe(true);

    const operator = await connectAs('operator');
    const credited = await operator.request(subject('rpc.billing.creditAccount'), '{}', { timeout: 2_000 });
    expect(credited.json()).toEqual({ ok: true });
    expect(served).toEqual([subject('rpc.billing.getAccount'), subject('rpc.billing.creditAccount')]);
    // The operator holds no JetStream rights: it cannot append events, only call.
    const operatorPublish = await jetstream(operator)
      .publish(subject('billing.account.a1'), '{}')
      .catch((err: unknown) => err);
    expect(isPermissionViolation(operatorPublish)).toBe(true);
  });

  it('keeps each identity to its own inbox and the subjects it serves', async () => {
    const proxy = await connectAs('inference-proxy');
    for (const stolen of [
      subject('rpc.billing.creditAccount'),
      `${inboxPrefix('billing')}.>`,
      '_INBOX.>',
      subject('billing.>'),
      '>',
    ]) {
      expect(isPermissionViolation(await subscriptionRefusal(proxy, stolen)), stolen).toBe(true);
    }
    expect(await subscriptionRefusal(proxy, `${inboxPrefix('inference-proxy')}.mine`)).toBeUndefined();
    expect(await subscriptionRefusal(proxy, subject('rpc.inference.probe'))).toBeUndefined();
  });

  it('gives a service its own leases and snapshot store, and nobody else’s', async () => {
    const billing = await connectAs('billing');
    const kvm = new Kvm(billing);
    const lease = await kvm.create(bucket(leaseBucket('billing-ledger')), { ttl: 15_000, history: 1 });
    const revision = await lease.create('billing-ledger', 'billing@host-1');
    expect(await lease.update('billing-ledger', 'billing@host-1', revision)).toBeGreaterThan(revision);
    expect((await lease.get('billing-ledger'))?.string()).toBe('billing@host-1');
    await lease.delete('billing-ledger');

    const foreign = await kvm
      .create(bucket(leaseBucket('chain-writer')), { ttl: 15_000, history: 1 })
      .catch((err: unknown) => err);
    expect(isPermissionViolation(foreign)).toBe(true);

    const snapshots = await new Objm(billing).create(bucket(snapshotBucket('billing')));
    await snapshots.putBlob({ name: 'billing.account.a1' }, encoder.encode('state v1'));
    await snapshots.putBlob({ name: 'billing.account.a1' }, encoder.encode('state v2'));
    expect(
      new TextDecoder().decode((await snapshots.getBlob('billing.account.a1')) ?? new Uint8Array()),
    ).toBe('state v2');
    const proxy = await connectAs('inference-proxy');
    const stolen = await new Objm(proxy).open(bucket(snapshotBucket('billing'))).catch((err: unknown) => err);
    expect(isPermissionViolation(stolen)).toBe(true);
  });
});

import {
  allStreams,
  inboxPrefix,
  leaseBucket,
  natsIdentities,
  natsPermissions,
  operatorOnlyRpcSubjects,
  OPERATOR_IDENTITY,
  Streams,
  type NatsIdentity,
  type NatsIdentityPermissions,
  type StreamName,
} from '@tessera/contracts';
import { envReference, type NatsConfigValue } from './nats-config.js';

/** The publish/subscribe permissions of one nats-server user, as the server's config spells them. */
export interface NatsUserPermissions {
  publish: { allow: string[]; deny: string[] };
  subscribe: { allow: string[] };
  /** Lets a responder publish to the reply subject of a request it received (RPC answers). */
  allow_responses: boolean;
}

/** Options for {@link natsUserPermissions} and {@link natsAuthorization}. */
export interface NatsPermissionOptions {
  /**
   * Test isolation prefix, as the event store's `Namespace` applies it: subjects become
   * `<ns>.<subject>`, streams and buckets `<ns>_<name>`. Empty (the default) in deployments.
   */
  namespace?: string;
}

/** Maps logical names onto the server the way `@tessera/eventstore`'s `Namespace` and the lease do. */
function namer(namespace: string) {
  return {
    subject: (logical: string) => (namespace === '' ? logical : `${namespace}.${logical}`),
    stream: (name: string) => (namespace === '' ? name : `${namespace}_${name}`),
    bucket: (name: string) => (namespace === '' ? name : `${namespace}_${name}`),
  };
}

const API = '$JS.API';

/** What reading a stream needs: consumers (ordered, durable, ephemeral), direct and message gets, acks, flow control. */
function readApi(stream: string): string[] {
  return [
    `${API}.STREAM.INFO.${stream}`,
    // Unnamed ephemeral consumers and consumers with several filter subjects use the form without a name.
    `${API}.CONSUMER.CREATE.${stream}`,
    // The 2.10 form: CONSUMER.CREATE.<stream>.<name>[.<filter>].
    `${API}.CONSUMER.CREATE.${stream}.>`,
    // A durable with several filter subjects still goes through the legacy durable form.
    `${API}.CONSUMER.DURABLE.CREATE.${stream}.>`,
    `${API}.CONSUMER.INFO.${stream}.>`,
    `${API}.CONSUMER.DELETE.${stream}.>`,
    `${API}.CONSUMER.MSG.NEXT.${stream}.>`,
    `${API}.DIRECT.GET.${stream}`,
    `${API}.DIRECT.GET.${stream}.>`,
    `${API}.STREAM.MSG.GET.${stream}`,
    `$JS.ACK.${stream}.>`,
    `$JS.FC.${stream}.>`,
  ];
}

/** What owning a stream adds: creating it and bringing its configuration up to date. */
function manageApi(stream: string): string[] {
  return [`${API}.STREAM.CREATE.${stream}`, `${API}.STREAM.UPDATE.${stream}`];
}

function uniqueSorted(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

/**
 * The nats-server permissions of one identity, from the table in `@tessera/contracts`.
 * Every identity subscribes only under its own inbox (`_INBOX_<identity>.>`) and the RPC subjects
 * it serves; it publishes only the events of the streams it writes, the RPCs it calls and exactly
 * the JetStream API subjects of its streams and buckets. Operator-only RPCs are denied to all but
 * the operator (a deny wins over any allow).
 *
 * Known limit of nats-server (nats-io/nats-server#8274): an identity that may create consumers on
 * a stream can give a push consumer a `deliver_subject` it may not publish to, and the server then
 * delivers that stream's stored messages there. It can only replay messages it may already read,
 * never forge one; every Tessera handler validates what it receives and deposits are credited
 * once per chain position, so a replayed event changes nothing.
 */
export function natsUserPermissions(
  identity: NatsIdentity,
  options: NatsPermissionOptions = {},
): NatsUserPermissions {
  const name = namer(options.namespace ?? '');
  const permissions: NatsIdentityPermissions = natsPermissions[identity];
  const streamNames = (streams: readonly StreamName[]) => streams.map((stream) => name.stream(stream));
  const usesJetStream =
    permissions.appends.length +
      permissions.reads.length +
      permissions.leases.length +
      permissions.kvBuckets.length +
      permissions.objectStores.length >
    0;

  const publish: string[] = [...permissions.calls.map(name.subject)];
  for (const stream of permissions.appends) {
    publish.push(...Streams[stream].subjects.map(name.subject));
    publish.push(...manageApi(name.stream(stream)));
  }
  for (const stream of streamNames([...permissions.appends, ...permissions.reads])) {
    publish.push(...readApi(stream));
  }
  for (const bucket of [...permissions.leases.map(leaseBucket), ...permissions.kvBuckets].map(name.bucket)) {
    publish.push(`$KV.${bucket}.>`, ...manageApi(`KV_${bucket}`), ...readApi(`KV_${bucket}`));
  }
  for (const bucket of permissions.objectStores.map(name.bucket)) {
    // Replacing an object purges its old chunks.
    publish.push(`$O.${bucket}.>`, ...manageApi(`OBJ_${bucket}`), ...readApi(`OBJ_${bucket}`));
    publish.push(`${API}.STREAM.PURGE.OBJ_${bucket}`);
  }
  if (usesJetStream) {
    // Account limits, asked by every JetStream client when it starts.
    publish.push(`${API}.INFO`);
    // A service may look up and create (never change: a different config is refused) every
    // declared stream, so services start in any order: the event store creates the streams it
    // reads when their writer has not yet started.
    for (const stream of streamNames(allStreams.map((declared) => declared.name as StreamName))) {
      publish.push(`${API}.STREAM.INFO.${stream}`, `${API}.STREAM.CREATE.${stream}`);
    }
  }

  const deny = identity === OPERATOR_IDENTITY ? [] : operatorOnlyRpcSubjects.map(name.subject);
  return {
    publish: { allow: uniqueSorted(publish), deny: uniqueSorted(deny) },
    subscribe: {
      allow: uniqueSorted([`${inboxPrefix(identity)}.>`, ...permissions.serves.map(name.subject)]),
    },
    allow_responses: permissions.serves.length > 0 || usesJetStream,
  };
}

/** Where each identity's public nkey comes from in a generated config. */
export type NatsUserKeys =
  /** Literal public keys (tests, `npm start`): each process holds the matching seed. */
  | { readonly publicKeys: Readonly<Record<NatsIdentity, string>> }
  /**
   * Environment variables of the nats-server process ({@link nkeyVariable}), so a committed
   * config holds no deployment's keys: Kubernetes and compose fill them in from their secrets.
   */
  | { readonly fromEnvironment: true };

/** Options for {@link natsAuthorization}. */
export interface NatsAuthorizationOptions extends NatsPermissionOptions {
  keys: NatsUserKeys;
  /**
   * Public nkeys of users without restrictions: a test harness that inspects every stream.
   * Deployments pass none.
   */
  unrestrictedPublicKeys?: readonly string[];
}

/** `NKEY_CHAIN_INDEXER` for `chain-indexer`: the variable holding an identity's public nkey. */
export function nkeyVariable(identity: NatsIdentity): string {
  return `NKEY_${identity.toUpperCase().replaceAll('-', '_')}`;
}

/**
 * The nats-server `authorization` block: one nkey user per identity of the table (the config holds
 * public keys only), with {@link natsUserPermissions}. A client without a known key is refused.
 */
export function natsAuthorization(options: NatsAuthorizationOptions): Record<string, NatsConfigValue> {
  const users: NatsConfigValue[] = natsIdentities.map((identity) => ({
    nkey:
      'fromEnvironment' in options.keys
        ? envReference(nkeyVariable(identity))
        : options.keys.publicKeys[identity],
    permissions: { ...natsUserPermissions(identity, options) },
  }));
  for (const publicKey of options.unrestrictedPublicKeys ?? []) users.push({ nkey: publicKey });
  return { users };
}

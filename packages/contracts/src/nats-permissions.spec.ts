import { describe, expect, it } from 'vitest';
import { rpcContracts } from './catalog.js';
import {
  natsIdentities,
  natsPermissions,
  operatorOnlyRpcSubjects,
  OPERATOR_IDENTITY,
  peerBroadcastSubjects,
  type NatsIdentityPermissions,
} from './nats-permissions.js';
import { allStreams, Streams } from './streams.js';

/** NATS subject matching: `*` is one token, `>` the rest (at least one token). */
function subjectMatches(pattern: string, subject: string): boolean {
  const wanted = pattern.split('.');
  const actual = subject.split('.');
  for (const [index, token] of wanted.entries()) {
    if (token === '>') return actual.length > index;
    if (index >= actual.length || (token !== '*' && token !== actual[index])) return false;
  }
  return wanted.length === actual.length;
}

const entries = Object.entries(natsPermissions) as [string, NatsIdentityPermissions][];
const appendersOf = (stream: string) =>
  entries.filter(([, permissions]) => (permissions.appends as readonly string[]).includes(stream));

describe('NATS permissions table', () => {
  it('matches subjects like nats-server does', () => {
    expect(subjectMatches('rpc.billing.>', 'rpc.billing.creditAccount')).toBe(true);
    expect(subjectMatches('rpc.billing.>', 'rpc.billing')).toBe(false);
    expect(subjectMatches('rpc.*.getUsage', 'rpc.billing.getUsage')).toBe(true);
    expect(subjectMatches('rpc.billing.getUsage', 'rpc.billing.getUsageX')).toBe(false);
  });

  it('lets only the chain indexer write CHAIN and only billing write BILLING', () => {
    expect(appendersOf('CHAIN').map(([name]) => name)).toEqual(['chain-indexer']);
    expect(appendersOf('BILLING').map(([name]) => name)).toEqual(['billing']);
  });

  it('gives every stream exactly one writer, the service that answers its context', () => {
    for (const stream of allStreams) {
      const writers = appendersOf(stream.name);
      expect(writers, stream.name).toHaveLength(1);
      const [, permissions] = writers[0] ?? [];
      expect(permissions?.serves, stream.name).toEqual([`rpc.${stream.context}.>`]);
    }
  });

  it('has every service answer only its own context, and every RPC contract answered by exactly one', () => {
    for (const [name, permissions] of entries) {
      const ownContexts = permissions.appends.map(
        (stream) => Streams[stream as keyof typeof Streams].context,
      );
      for (const subject of permissions.serves) {
        expect(
          ownContexts.map((context) => `rpc.${context}.>`),
          name,
        ).toContain(subject);
      }
    }
    for (const contract of rpcContracts) {
      const servers = entries.filter(([, permissions]) =>
        permissions.serves.some((pattern) => subjectMatches(pattern, contract.subject)),
      );
      expect(servers, contract.subject).toHaveLength(1);
    }
  });

  it('keeps operator-only calls out of every other identity’s explicit list', () => {
    expect(operatorOnlyRpcSubjects).toContain('rpc.billing.creditAccount');
    expect(operatorOnlyRpcSubjects).toContain('rpc.billing.setTaoPrice');
    expect(operatorOnlyRpcSubjects).toContain('rpc.billing.changeAccountStatus');
    expect(operatorOnlyRpcSubjects).toContain('rpc.billing.replayDeadLetters');
    for (const [name, permissions] of entries) {
      if (name === OPERATOR_IDENTITY) continue;
      for (const subject of operatorOnlyRpcSubjects) {
        expect(permissions.calls, `${name} lists ${subject}`).not.toContain(subject);
      }
    }
    const operator = natsPermissions.operator;
    expect(
      operatorOnlyRpcSubjects.every((subject) => operator.calls.some((p) => subjectMatches(p, subject))),
    ).toBe(true);
  });

  it('gives the operator calls only: no events, no streams, nothing served', () => {
    const operator: NatsIdentityPermissions = natsPermissions.operator;
    expect([operator.appends, operator.reads, operator.serves, operator.leases]).toEqual([[], [], [], []]);
  });

  it('lists reads of other streams only, and calls into other contexts only', () => {
    for (const [name, permissions] of entries) {
      for (const stream of permissions.reads) expect(permissions.appends, name).not.toContain(stream);
      for (const subject of permissions.calls) {
        if (peerBroadcastSubjects.includes(subject)) continue;
        expect(
          permissions.serves.some((pattern) => subjectMatches(pattern, subject)),
          `${name} calls itself: ${subject}`,
        ).toBe(false);
      }
    }
  });

  it('uses names that are valid service names, subject tokens and bucket names', () => {
    for (const [name, permissions] of entries) {
      expect(name).toMatch(/^[a-z][a-z0-9-]*$/);
      for (const lease of permissions.leases) expect(lease).toMatch(/^[a-z][a-z0-9-]*$/);
      for (const bucket of [...permissions.kvBuckets, ...permissions.objectStores])
        expect(bucket).toMatch(/^[A-Za-z0-9_-]+$/);
    }
    expect(natsIdentities).toContain('operator');
    expect(new Set(entries.flatMap(([, p]) => p.leases)).size).toBe(
      entries.flatMap(([, p]) => p.leases).length,
    );
  });
});

import { RATE_USAGE_SUBJECT } from './inference/rate-usage.js';
import { deadLetterContracts } from './operations/dead-letters.js';

/**
 * Subjects replicas of one service publish to each other (not requests: nobody replies). The
 * only subjects a service both serves and calls.
 */
export const peerBroadcastSubjects: readonly string[] = [RATE_USAGE_SUBJECT];
import {
  ChangeAccountStatus,
  ChargeGpuUsage,
  CreditAccount,
  CreditSuspendedDeposit,
  ExportStatement,
  GetAccount,
  GetPriceBook,
  GetUsage,
  GrantCredit,
  IssueApiKey,
  ListApiKeys,
  ListLedgerEntries,
  RevokeApiKey,
  SetGpuPrice,
  SetModelPrice,
  SetTaoPrice,
  SettleGrant,
  VerifyApiKey,
} from './billing/rpc.js';
import { GetMetagraph, GetNeuron } from './chain/metagraph.js';
import { type ContextName, type Streams } from './streams.js';

/**
 * NATS is the trust boundary: whoever can publish `chain.TransferObserved` or call
 * `rpc.billing.creditAccount` can mint money. This table says, per NATS identity, what it may
 * touch; `@tessera/devservers` turns it into the nats-server `authorization` block used by tests,
 * `npm start`, docker-compose and Kubernetes, so they cannot drift apart. Pure data: no framework.
 *
 * To add a service: add its identity here (named as its `SERVICE_NAME`), then regenerate the
 * deploy configs (`npm run generate:nats-config`).
 */

/** A declared event stream, by name (`'BILLING'`). */
export type StreamName = keyof typeof Streams;

/** What one NATS identity may do. Subjects are logical: the generator adds a test namespace. */
export interface NatsIdentityPermissions {
  /**
   * Streams it appends events to, i.e. publishes on their `<context>.>` subjects. It also creates
   * and reconciles these streams. Exactly one identity appends to each stream.
   */
  readonly appends: readonly StreamName[];
  /** Streams it reads (consumers, direct gets). Its own streams are read too, without listing them. */
  readonly reads: readonly StreamName[];
  /**
   * Request/reply subjects it answers (subscribes to), `rpc.<its context>.>` for a service:
   * nobody else can subscribe there, so nobody else can answer, or read, its requests.
   */
  readonly serves: readonly string[];
  /**
   * Request/reply subjects it may publish (call). Contract subjects where the contract exists;
   * `rpc.<context>.>` for a context whose contracts are still to be written. Operator-only
   * subjects ({@link operatorOnlyRpcSubjects}) are denied to every identity but `operator`,
   * whatever this list says.
   */
  readonly calls: readonly string[];
  /**
   * Leases it takes ({@link leaseBucket}): one per projection or reactor, named after it
   * (`billing-ledger`), plus singletons (`chain-writer`).
   */
  readonly leases: readonly string[];
  /** Other KV buckets it reads and writes. */
  readonly kvBuckets: readonly string[];
  /** Object store buckets it reads and writes, e.g. its context's {@link snapshotBucket}. */
  readonly objectStores: readonly string[];
}

/** The KV bucket of a lease: one bucket per lease, because the bucket's max age is the lease's TTL. */
export function leaseBucket(leaseName: string): string {
  return `lease_${leaseName}`;
}

/** The object store bucket holding a context's aggregate snapshots. */
export function snapshotBucket(context: ContextName): string {
  return `snapshots_${context}`;
}

/**
 * The inbox prefix of an identity's connection. Replies (RPC answers, JetStream acks and
 * deliveries) arrive under it, and an identity may subscribe only under its own, so nobody reads
 * another's replies.
 */
export function inboxPrefix(identity: string): string {
  return `_INBOX_${identity}`;
}

/** The dead-letter RPCs every consuming service answers (list, replay), for the operator. */
export function deadLetterRpcSubjects(context: ContextName): readonly string[] {
  const contracts = deadLetterContracts(context);
  return [contracts.list.subject, contracts.replay.subject];
}

/** The contexts whose services answer dead-letter RPCs: every one that runs consumers. */
const contextsWithConsumers: readonly ContextName[] = [
  'chain',
  'billing',
  'scheduler',
  'inference',
  'training',
  'scoring',
];

/**
 * Subjects only the `operator` identity may publish: minting credit, setting prices, suspending
 * accounts and re-driving dead letters. Every other identity gets them as a publish deny, which
 * wins over any allow (including a context wildcard in `calls`).
 */
export const operatorOnlyRpcSubjects: readonly string[] = [
  CreditAccount.subject,
  CreditSuspendedDeposit.subject,
  SetTaoPrice.subject,
  SetModelPrice.subject,
  SetGpuPrice.subject,
  ChangeAccountStatus.subject,
  ...contextsWithConsumers.flatMap(deadLetterRpcSubjects),
];

/** Billing calls the proxy makes on behalf of customers (keys, money, statements). */
const customerBillingCalls = [
  VerifyApiKey.subject,
  IssueApiKey.subject,
  ListApiKeys.subject,
  RevokeApiKey.subject,
  GetAccount.subject,
  GrantCredit.subject,
  SettleGrant.subject,
  GetPriceBook.subject,
  GetUsage.subject,
  ListLedgerEntries.subject,
  ExportStatement.subject,
];

const metagraphCalls = [GetMetagraph.subject, GetNeuron.subject];

const none: readonly never[] = [];

/**
 * PUBLIC CONTRACT — the NATS permissions of every identity, one entry per service plus the
 * human `operator` (the CLI). Identity names are the services' `SERVICE_NAME`s.
 */
export const natsPermissions = {
  billing: {
    appends: ['BILLING'],
    // Deposits (chain.TransferObserved), metered requests, training charges.
    reads: ['CHAIN', 'INFERENCE', 'TRAINING'],
    serves: ['rpc.billing.>'],
    calls: none,
    leases: [
      'billing-directory',
      'billing-ledger',
      'billing-usage-daily',
      'billing-deposit-crediting',
      'billing-request-charging',
    ],
    kvBuckets: none,
    objectStores: [snapshotBucket('billing')],
  },
  'chain-indexer': {
    appends: ['CHAIN'],
    // Deposit addresses to watch (billing), weights to set (scoring).
    reads: ['BILLING', 'SCORING'],
    serves: ['rpc.chain.>'],
    calls: none,
    leases: ['chain-writer', 'chain-indexer-watched-addresses', 'chain-indexer-weight-proposals'],
    kvBuckets: none,
    objectStores: [snapshotBucket('chain')],
  },
  scheduler: {
    appends: ['SCHEDULER'],
    // Miners (neurons, axons) and demand from the proxy.
    reads: ['CHAIN', 'INFERENCE'],
    serves: ['rpc.scheduler.>'],
    // GPU-seconds of private deployments.
    calls: [ChargeGpuUsage.subject, ...metagraphCalls],
    leases: ['scheduler-placement', 'scheduler-miners', 'scheduler-instances'],
    kvBuckets: none,
    objectStores: [snapshotBucket('scheduler')],
  },
  'inference-proxy': {
    appends: ['INFERENCE'],
    // Routing table (instances) and API keys.
    reads: ['SCHEDULER', 'BILLING'],
    serves: ['rpc.inference.>'],
    // The public API forwards account, key and deployment calls; replicas broadcast their rate
    // usage to each other (core NATS, under the subjects the proxy serves).
    calls: [...customerBillingCalls, 'rpc.scheduler.>', ...peerBroadcastSubjects],
    leases: none,
    kvBuckets: none,
    objectStores: [snapshotBucket('inference')],
  },
  'training-coordinator': {
    appends: ['TRAINING'],
    reads: ['CHAIN', 'SCHEDULER'],
    serves: ['rpc.training.>'],
    // A winning model becomes a deployment.
    calls: [...metagraphCalls, 'rpc.scheduler.>'],
    leases: none,
    kvBuckets: none,
    // Datasets and submitted models live in a JetStream object store.
    objectStores: ['training_files', snapshotBucket('training')],
  },
  scorer: {
    appends: ['SCORING'],
    // Probes, instance lifetimes, training results and the metagraph pay miners.
    reads: ['INFERENCE', 'SCHEDULER', 'TRAINING', 'CHAIN'],
    serves: ['rpc.scoring.>'],
    calls: metagraphCalls,
    leases: none,
    kvBuckets: none,
    objectStores: [snapshotBucket('scoring')],
  },
  // The operator CLI: every request/reply call (including the operator-only ones), no events.
  operator: {
    appends: none,
    reads: none,
    serves: none,
    calls: ['rpc.>'],
    leases: none,
    kvBuckets: none,
    objectStores: none,
  },
} as const satisfies Record<string, NatsIdentityPermissions>;

/** A NATS identity: a service name or `operator`. */
export type NatsIdentity = keyof typeof natsPermissions;

/** Every identity, in table order. */
export const natsIdentities = Object.keys(natsPermissions) as NatsIdentity[];

/** The identity allowed to publish {@link operatorOnlyRpcSubjects}. */
export const OPERATOR_IDENTITY = 'operator' satisfies NatsIdentity;

/** Whether a name is an identity of the table (e.g. a `SERVICE_NAME`). */
export function isNatsIdentity(name: string): name is NatsIdentity {
  return Object.hasOwn(natsPermissions, name);
}

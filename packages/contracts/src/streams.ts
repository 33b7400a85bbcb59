import { z } from 'zod';

/**
 * PUBLIC CONTRACT — stream and subject names are part of the event log's address space.
 * Renaming one orphans every stored event and every durable consumer: never rename without
 * a migration that copies the stream.
 */
export const Context = {
  chain: 'chain',
  billing: 'billing',
  scheduler: 'scheduler',
  inference: 'inference',
  training: 'training',
  scoring: 'scoring',
} as const;
export type ContextName = (typeof Context)[keyof typeof Context];

/** A JetStream stream as the contract declares it: its name and the subjects it captures. */
export interface StreamDeclaration {
  /** Stream name, upper case (`BILLING`). */
  readonly name: string;
  /** The bounded context whose events the stream holds. */
  readonly context: ContextName;
  /** Subjects captured, e.g. `billing.>`. */
  readonly subjects: readonly string[];
}

function declareStream(context: ContextName): StreamDeclaration {
  return { name: context.toUpperCase(), context, subjects: [`${context}.>`] };
}

/** PUBLIC CONTRACT — one stream per bounded context. */
export const Streams = {
  CHAIN: declareStream(Context.chain),
  BILLING: declareStream(Context.billing),
  SCHEDULER: declareStream(Context.scheduler),
  INFERENCE: declareStream(Context.inference),
  TRAINING: declareStream(Context.training),
  SCORING: declareStream(Context.scoring),
} as const satisfies Record<string, StreamDeclaration>;

/** Every declared stream, for bootstrapping. */
export const allStreams: readonly StreamDeclaration[] = Object.values(Streams);

/** A subject token: no dots, wildcards or whitespace (NATS would split or match on them). */
const subjectToken = /^[A-Za-z0-9_:-]+$/;

/**
 * A stream id is the aggregate's subject, `<context>.<aggregate>.<aggregateId>`,
 * e.g. `billing.account.01J…`. One aggregate = one subject, so JetStream's per-subject
 * sequence gives optimistic concurrency per aggregate.
 */
export const streamIdSchema = z
  .string()
  .regex(
    /^[a-z]+\.[a-zA-Z][a-zA-Z0-9-]*\.[A-Za-z0-9_:-]+$/,
    'must be <context>.<aggregate>.<aggregateId> with no wildcards or whitespace',
  )
  .refine((value) => (Object.values(Context) as string[]).includes(value.split('.')[0] ?? ''), {
    message: 'must start with a known context',
  });

/** Builds a stream id; throws on tokens that would break subject matching. */
export function streamIdOf(context: ContextName, aggregate: string, aggregateId: string): string {
  for (const [label, token] of [
    ['aggregate', aggregate],
    ['aggregateId', aggregateId],
  ] as const) {
    if (!subjectToken.test(token)) {
      throw new RangeError(`${label} "${token}" may only hold letters, digits, '_', ':' and '-'`);
    }
  }
  return `${context}.${aggregate}.${aggregateId}`;
}

/** The context a stream id belongs to (its first token). */
export function contextOf(streamId: string): ContextName {
  const context = streamId.split('.')[0];
  const known = Object.values(Context) as string[];
  if (context === undefined || !known.includes(context)) {
    throw new RangeError(`stream id "${streamId}" does not start with a known context`);
  }
  return context as ContextName;
}

/** The declared stream holding a stream id's events. */
export function streamFor(streamId: string): StreamDeclaration {
  const context = contextOf(streamId);
  const declaration = allStreams.find((stream) => stream.context === context);
  if (!declaration) throw new RangeError(`no stream declared for context ${context}`);
  return declaration;
}

/** Request/reply subjects are `rpc.<context>.<method>`. */
export const rpcSubjectSchema = z
  .string()
  .regex(/^rpc\.[a-z]+\.[a-z][A-Za-z0-9]*$/, 'must be rpc.<context>.<method>');

import { allStreams, type StreamDeclaration } from '@tessera/contracts';
import {
  DiscardPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { ExponentialBackoff, handleWhen, retry } from 'cockatiel';
import { classifyFailure } from '../failures.js';
import { type Namespace } from '../namespace.js';

/** Storage settings applied to every event stream. */
export interface StreamSettings {
  /** How long JetStream remembers a `Nats-Msg-Id`; a retried append inside it is a no-op. Default 10 minutes. */
  duplicateWindowMs?: number;
  /** Replicas per stream: 1 on one host, 3 on a cluster. Default 1. */
  replicas?: number;
}

const DEFAULT_DUPLICATE_WINDOW_MS = 10 * 60_000;
const STREAM_NAME_IN_USE = 10058;

/**
 * Creates each declared stream, or brings an existing one to the declared subjects, duplicate
 * window, replica count and direct-get setting. Idempotent and safe to run from every replica at once: a replica that
 * loses the creation race reads the winner's stream and updates it only if it differs.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  namespace: Namespace,
  declarations: readonly StreamDeclaration[] = allStreams,
  settings: StreamSettings = {},
): Promise<void> {
  for (const declaration of declarations) {
    // A cluster that is electing leaders or still gathering its peers refuses for a moment
    // ("no suitable peers", no responders): retry that, not a bad configuration.
    const retryTransient = retry(
      handleWhen((err) => classifyFailure(err) === 'transient'),
      {
        maxAttempts: 30,
        backoff: new ExponentialBackoff({ initialDelay: 200, maxDelay: 2_000 }),
      },
    );
    const wanted: Partial<StreamConfig> & { name: string; subjects: string[] } = {
      name: namespace.streamName(declaration),
      subjects: declaration.subjects.map((subject) => namespace.subject(subject)),
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      duplicate_window: nanos(settings.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS),
      num_replicas: settings.replicas ?? 1,
      // Direct get lets readers fetch the last event of an aggregate without a consumer.
      allow_direct: true,
    };
    await retryTransient.execute(() => ensureStream(jsm, wanted));
  }
}

async function ensureStream(
  jsm: JetStreamManager,
  wanted: Partial<StreamConfig> & { name: string; subjects: string[] },
): Promise<void> {
  const existing = await jsm.streams.info(wanted.name).catch((err: unknown) => {
    if (err instanceof JetStreamApiError && err.code === 10059) return null;
    throw err;
  });
  if (!existing) {
    try {
      await jsm.streams.add(wanted);
      return;
    } catch (err) {
      if (!(err instanceof JetStreamApiError && err.code === STREAM_NAME_IN_USE)) throw err;
      // Another replica created it first with other settings; fall through and reconcile.
    }
  }
  const current = existing ?? (await jsm.streams.info(wanted.name));
  const drift = driftOf(current.config, wanted);
  if (drift.length > 0) {
    // Subjects, the duplicate window, direct get and the replica count can all change in place
    // (JetStream moves or adds replicas itself); storage and retention cannot, and never differ
    // here because every stream is created by this function.
    await jsm.streams.update(wanted.name, {
      subjects: wanted.subjects,
      duplicate_window: wanted.duplicate_window,
      num_replicas: wanted.num_replicas,
      allow_direct: wanted.allow_direct,
    });
  }
}

/** The settings in which an existing stream differs from the declaration (empty when none). */
export function driftOf(
  current: Partial<Pick<StreamConfig, 'subjects' | 'duplicate_window' | 'num_replicas' | 'allow_direct'>>,
  wanted: Partial<Pick<StreamConfig, 'subjects' | 'duplicate_window' | 'num_replicas' | 'allow_direct'>>,
): string[] {
  const drift: string[] = [];
  if ([...(current.subjects ?? [])].sort().join(',') !== [...(wanted.subjects ?? [])].sort().join(','))
    drift.push('subjects');
  if (current.duplicate_window !== wanted.duplicate_window) drift.push('duplicate_window');
  if (current.num_replicas !== wanted.num_replicas) drift.push('num_replicas');
  if (Boolean(current.allow_direct) !== Boolean(wanted.allow_direct)) drift.push('allow_direct');
  return drift;
}

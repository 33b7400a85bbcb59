/**
 * nats-server configuration files, rendered from data: the same renderer writes the configs
 * tests and `npm start` run with and the ones committed for docker-compose and Kubernetes.
 */

/** A value the server reads from its environment when it loads the file (`$POD_NAME`). */
export interface EnvReference {
  readonly env: string;
}

/** What a config file can hold. */
export type NatsConfigValue =
  | string
  | number
  | boolean
  | EnvReference
  | readonly NatsConfigValue[]
  | { readonly [key: string]: NatsConfigValue | undefined };

/** `$NAME` in the rendered file: nats-server substitutes the environment variable, and refuses to start without it. */
export function envReference(name: string): EnvReference {
  if (!/^[A-Z_][A-Z0-9_]*$/.test(name)) throw new RangeError(`${name} is not an environment variable name`);
  return { env: name };
}

function isEnvReference(value: NatsConfigValue): value is EnvReference {
  return (
    typeof value === 'object' && !Array.isArray(value) && 'env' in value && typeof value.env === 'string'
  );
}

function renderValue(value: NatsConfigValue, indent: string): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (isEnvReference(value)) return `$${value.env}`;
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    const items = value as readonly NatsConfigValue[];
    if (items.length === 0) return '[]';
    return `[\n${items.map((item) => `${inner}${renderValue(item, inner)}`).join('\n')}\n${indent}]`;
  }
  const entries = Object.entries(value).filter(
    (entry): entry is [string, NatsConfigValue] => entry[1] !== undefined,
  );
  if (entries.length === 0) return '{}';
  return `{\n${renderEntries(entries, inner)}\n${indent}}`;
}

function renderEntries(entries: readonly [string, NatsConfigValue][], indent: string): string {
  return entries.map(([key, value]) => `${indent}${key}: ${renderValue(value, indent)}`).join('\n');
}

/**
 * Renders a config file. Strings are always quoted, so subjects such as `$JS.API.INFO` stay
 * literal (an unquoted `$` would be read as a variable).
 */
export function renderNatsConfig(
  config: Readonly<Record<string, NatsConfigValue | undefined>>,
  header: readonly string[] = [],
): string {
  const entries = Object.entries(config).filter(
    (entry): entry is [string, NatsConfigValue] => entry[1] !== undefined,
  );
  return `${[...header.map((line) => `# ${line}`), renderEntries(entries, '')].join('\n')}\n`;
}

/** JetStream settings of a config file. */
export interface JetStreamConfig {
  storeDir: string | EnvReference;
  /**
   * fsync every write (`sync_interval: always`, nats-server 2.10+). Without it the server syncs
   * every 2 minutes and an acknowledged message can be lost when a machine (not a process) dies.
   */
  syncAlways?: boolean;
}

/** A cluster member's route settings. */
export interface ClusterConfig {
  name: string;
  /** `host:port` this node listens on for routes. */
  listen: string;
  /** Every node's route URL (a node's own is ignored by the server). */
  routes: readonly string[];
}

/** Options for {@link natsServerConfig}. */
export interface NatsServerConfigOptions {
  /** `host:port` for clients. */
  listen: string;
  serverName?: string | EnvReference;
  /** `host:port` of the monitoring endpoint (`/healthz`, `/jsz`). */
  http?: string;
  jetstream: JetStreamConfig;
  cluster?: ClusterConfig;
  /** An `authorization` block (see `natsAuthorization`); none means no authentication. */
  authorization?: Record<string, NatsConfigValue>;
  /** Seconds a stopping server waits for clients to move elsewhere; a cluster's rolling restart needs it. */
  lameDuckSeconds?: number;
}

/** The config of one nats-server, as data for {@link renderNatsConfig}. */
export function natsServerConfig(
  options: NatsServerConfigOptions,
): Record<string, NatsConfigValue | undefined> {
  return {
    server_name: options.serverName,
    listen: options.listen,
    http: options.http,
    lame_duck_duration: options.lameDuckSeconds === undefined ? undefined : `${options.lameDuckSeconds}s`,
    jetstream: {
      store_dir: options.jetstream.storeDir,
      // Placed inside `jetstream`: nats-server refuses it at the top level.
      sync_interval: options.jetstream.syncAlways ? 'always' : undefined,
    },
    cluster: options.cluster && {
      name: options.cluster.name,
      listen: options.cluster.listen,
      routes: [...options.cluster.routes],
    },
    authorization: options.authorization,
  };
}

// The NATS configs committed for docker-compose and Kubernetes come from the permissions table:
// they must not drift from it, nats-server 2.10 must accept them, refuse to start without the
// identities' public keys, and (compose, started for real) enforce what the table says.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, nkeyAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { inboxPrefix, natsIdentities, type NatsIdentity } from '@tessera/contracts';
import * as devservers from '@tessera/devservers';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEPLOY_NATS_CONFIG_FILES, deployNatsConfigs } from '../src/nats-deploy-config.js';
import { freePort } from '../src/ports.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const run = promisify(execFile);
const keys = devservers.createNatsIdentityKeys();
/** What a deployment gives nats-server: each identity's public key, and the pod name on Kubernetes. */
const serverEnv: Record<string, string> = {
  PATH: process.env['PATH'] ?? '',
  POD_NAME: 'nats-0',
  ...Object.fromEntries(
    natsIdentities.map((identity) => [devservers.nkeyVariable(identity), keys[identity].publicKey]),
  ),
};

function committed(path: string): string {
  return readFileSync(join(repoRoot, path), 'utf8');
}

function kubernetesNatsConf(): string {
  const configMap = parse(committed(DEPLOY_NATS_CONFIG_FILES.kubernetes)) as { data: Record<string, string> };
  const conf = configMap.data['nats.conf'];
  if (conf === undefined) throw new Error('the nats-config ConfigMap holds no nats.conf');
  return conf;
}

describe('committed NATS deploy configs', () => {
  const workDir = mkdtempSync(join(tmpdir(), 'tessera-nats-deploy-'));
  afterAll(() => rmSync(workDir, { recursive: true, force: true }));

  it.each(Object.entries(deployNatsConfigs(devservers)))(
    '%s matches the permissions table',
    (path, generated) => {
      expect(committed(path), `${path} is stale: run npm run generate:nats-config`).toBe(generated);
    },
  );

  it.each([
    ['compose', () => committed(DEPLOY_NATS_CONFIG_FILES.compose)],
    ['kubernetes', kubernetesNatsConf],
  ])('%s: nats-server accepts it, and refuses to start without the public keys', async (name, conf) => {
    const file = join(workDir, `${name}.conf`);
    writeFileSync(file, conf());
    const server = await devservers.findNatsServer();
    const checked = await run(server, ['-t', '-c', file], { env: serverEnv });
    expect(`${checked.stdout}${checked.stderr}`).toContain('is valid');
    await expect(
      run(server, ['-t', '-c', file], { env: { PATH: serverEnv['PATH'], POD_NAME: 'nats-0' } }),
    ).rejects.toThrow(/NKEY_BILLING/);
  });

  it('kubernetes: syncs every write and routes between the three StatefulSet pods', () => {
    const conf = kubernetesNatsConf();
    expect(conf).toMatch(/jetstream: \{[^}]*sync_interval: "always"/);
    expect(conf).toContain('"nats://nats-2.nats-headless:6222"');
  });
});

describe('docker-compose.yml', () => {
  interface ComposeService {
    environment?: Record<string, string>;
    volumes?: string[];
    build?: { args?: { APP?: string } };
  }
  const compose = parse(committed('docker-compose.yml')) as { services: Record<string, ComposeService> };

  it('runs NATS from the generated config with every identity’s public key', () => {
    const nats = compose.services['nats'];
    expect(nats?.volumes).toContain(`./${DEPLOY_NATS_CONFIG_FILES.compose}:/etc/nats/nats.conf:ro`);
    const variables = Object.keys(nats?.environment ?? {}).sort();
    expect(variables).toEqual(natsIdentities.map((identity) => devservers.nkeyVariable(identity)).sort());
  });

  it('gives every app NODE_ENV and its own identity’s seed', () => {
    const apps = Object.values(compose.services).filter((service) => service.build?.args?.APP);
    expect(apps.length).toBeGreaterThan(0);
    for (const app of apps) {
      const env = app.environment ?? {};
      const identity = env['SERVICE_NAME'] ?? '';
      expect(natsIdentities, `${app.build?.args?.APP}: SERVICE_NAME`).toContain(identity);
      expect(env['NODE_ENV'], identity).toBe('production');
      const seedVariable = `NATS_SEED_${devservers.nkeyVariable(identity as NatsIdentity).slice('NKEY_'.length)}`;
      expect(env['NATS_NKEY_SEED'], identity).toMatch(new RegExp(`^\\$\\{${seedVariable}:\\?`));
    }
  });
});

describe('the compose NATS config, started', () => {
  let server: ReturnType<typeof devservers.startManagedProcess>;
  let url: string;
  const connections: NatsConnection[] = [];
  const workDir = mkdtempSync(join(tmpdir(), 'tessera-nats-compose-'));

  const connectAs = async (identity: NatsIdentity) => {
    const nc = await connect({
      servers: url,
      authenticator: nkeyAuthenticator(new TextEncoder().encode(keys[identity].seed)),
      inboxPrefix: inboxPrefix(identity),
    });
    connections.push(nc);
    return nc;
  };

  beforeAll(async () => {
    const port = await freePort();
    url = `nats://127.0.0.1:${port}`;
    // Only where it listens and stores changes; the users and permissions are the committed ones.
    const conf = committed(DEPLOY_NATS_CONFIG_FILES.compose)
      .replace('listen: "0.0.0.0:4222"', `listen: "127.0.0.1:${port}"`)
      .replace('http: "0.0.0.0:8222"\n', '')
      .replace('store_dir: "/data"', `store_dir: ${JSON.stringify(join(workDir, 'store'))}`);
    writeFileSync(join(workDir, 'nats.conf'), conf);
    server = devservers.startManagedProcess({
      name: 'nats-compose',
      command: await devservers.findNatsServer(),
      args: ['-c', join(workDir, 'nats.conf')],
      env: serverEnv,
    });
    await devservers.waitForPort('127.0.0.1', port, 15_000);
  });

  afterAll(async () => {
    await Promise.allSettled(connections.map((nc) => nc.close()));
    await server?.stop();
    rmSync(workDir, { recursive: true, force: true });
  });

  it('takes each identity’s key from the environment and enforces its permissions', async () => {
    const billing = await connectAs('billing');
    await (await jetstreamManager(billing)).streams.add({ name: 'BILLING', subjects: ['billing.>'] });
    expect((await jetstream(billing).publish('billing.account.a1', '{}')).seq).toBe(1);
    const proxy = await connectAs('inference-proxy');
    await expect(jetstream(proxy).publish('billing.account.a1', '{}')).rejects.toThrow(
      /Permissions Violation/,
    );
    await expect(connect({ servers: url, reconnect: false })).rejects.toThrow(/Authorization/i);
  });
});

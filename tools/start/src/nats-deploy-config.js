// The nats-server configs committed for docker-compose and Kubernetes, rendered from the
// permissions table by @tessera/devservers. They reference each identity's public nkey as an
// environment variable (NKEY_BILLING, ...), so no deployment's keys are in the repository;
// `npm run nats:keys` makes them. Regenerate with `npm run generate:nats-config`; a test fails
// when the committed files differ from what the table gives.
import { stringify } from 'yaml';

const HEADER = [
  'Generated from packages/contracts/src/nats-permissions.ts by `npm run generate:nats-config`.',
  'Do not edit: change the permissions table and regenerate (a test compares this file with it).',
  'Each user is one service identity; NKEY_<IDENTITY> holds its public nkey (`npm run nats:keys`).',
];

/** Where each committed config lives, relative to the repository root. */
export const DEPLOY_NATS_CONFIG_FILES = {
  compose: 'deploy/compose/nats.conf',
  kubernetes: 'deploy/kubernetes/base/nats-config.yaml',
};

/** How many nodes the Kubernetes StatefulSet runs (deploy/kubernetes/base/nats.yaml). */
export const KUBERNETES_NATS_NODES = 3;

/**
 * The one-host NATS of docker-compose.yml.
 * @param {typeof import('@tessera/devservers')} devservers
 * @returns {string}
 */
export function composeNatsConfig(devservers) {
  return devservers.renderNatsConfig(
    devservers.natsServerConfig({
      listen: '0.0.0.0:4222',
      http: '0.0.0.0:8222',
      jetstream: { storeDir: '/data', syncAlways: true },
      authorization: devservers.natsAuthorization({ keys: { fromEnvironment: true } }),
    }),
    HEADER,
  );
}

/**
 * The 3-node JetStream cluster of deploy/kubernetes, as the ConfigMap its pods mount.
 * @param {typeof import('@tessera/devservers')} devservers
 * @returns {string}
 */
export function kubernetesNatsConfig(devservers) {
  const routes = Array.from(
    { length: KUBERNETES_NATS_NODES },
    (_, index) => `nats://nats-${index}.nats-headless:6222`,
  );
  const config = devservers.renderNatsConfig(
    devservers.natsServerConfig({
      // nats-0, nats-1, nats-2: the pod's name, from its environment.
      serverName: devservers.envReference('POD_NAME'),
      listen: '0.0.0.0:4222',
      http: '0.0.0.0:8222',
      lameDuckSeconds: 30,
      jetstream: { storeDir: '/data', syncAlways: true },
      cluster: { name: 'tessera', listen: '0.0.0.0:6222', routes },
      authorization: devservers.natsAuthorization({ keys: { fromEnvironment: true } }),
    }),
  );
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'nats-config' },
    data: { 'nats.conf': config },
  };
  return `${HEADER.map((line) => `# ${line}`).join('\n')}\n${stringify(configMap, { lineWidth: 0 })}`;
}

/**
 * Every committed config, by path.
 * @param {typeof import('@tessera/devservers')} devservers
 * @returns {Record<string, string>}
 */
export function deployNatsConfigs(devservers) {
  return {
    [DEPLOY_NATS_CONFIG_FILES.compose]: composeNatsConfig(devservers),
    [DEPLOY_NATS_CONFIG_FILES.kubernetes]: kubernetesNatsConfig(devservers),
  };
}

// Offline checks of deploy/kubernetes: every manifest parses and validates against the
// Kubernetes schemas (kubernetes-models), kustomizations list files that exist, and the
// objects refer to each other consistently (selectors, config maps, services, patch targets).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as appsV1 from 'kubernetes-models/apps/v1';
import * as autoscalingV2 from 'kubernetes-models/autoscaling/v2';
import * as networkingV1 from 'kubernetes-models/networking.k8s.io/v1';
import * as policyV1 from 'kubernetes-models/policy/v1';
import * as coreV1 from 'kubernetes-models/v1';
import { natsIdentities } from '@tessera/contracts';
import { parse, parseAllDocuments } from 'yaml';

const deployDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'deploy', 'kubernetes');

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

interface Kustomization {
  resources?: string[];
  patches?: Array<{ path?: string; patch?: string; target?: { kind?: string; name?: string } }>;
}

type ModelClass = new (data: unknown) => { validate(): void };

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return yamlFiles(path);
    return /\.ya?ml$/.test(entry) ? [path] : [];
  });
}

function readDocuments(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, 'utf8')).map((document) => {
    if (document.errors.length > 0)
      throw new Error(`${file}: ${document.errors.map((e) => e.message).join('; ')}`);
    return document.toJS() as unknown;
  });
}

function asObject(value: unknown, where: string): K8sObject {
  const candidate = value as Partial<K8sObject> | null;
  if (
    !candidate ||
    typeof candidate.apiVersion !== 'string' ||
    typeof candidate.kind !== 'string' ||
    !candidate.metadata?.name
  ) {
    throw new Error(`${where}: not a Kubernetes object (apiVersion, kind, metadata.name)`);
  }
  return candidate as K8sObject;
}

/** Resource files reachable from a kustomization directory, following bases. */
function resourceFiles(kustomizationDir: string): string[] {
  const kustomization = parse(
    readFileSync(join(kustomizationDir, 'kustomization.yaml'), 'utf8'),
  ) as Kustomization;
  return (kustomization.resources ?? []).flatMap((entry) => {
    const path = resolve(kustomizationDir, entry);
    return statSync(path).isDirectory() ? resourceFiles(path) : [path];
  });
}

function objectsOf(kustomizationDir: string): K8sObject[] {
  return resourceFiles(kustomizationDir).flatMap((file) =>
    readDocuments(file).map((document, index) => asObject(document, `${relative(deployDir, file)}#${index}`)),
  );
}

/** The API groups the manifests use; a manifest of another group fails until it is added here. */
const MODELS: Record<string, Record<string, unknown>> = {
  v1: coreV1,
  'apps/v1': appsV1,
  'autoscaling/v2': autoscalingV2,
  'networking.k8s.io/v1': networkingV1,
  'policy/v1': policyV1,
};

function modelFor(object: K8sObject): ModelClass {
  const model = MODELS[object.apiVersion]?.[object.kind] as ModelClass | undefined;
  if (!model) throw new Error(`kubernetes-models has no ${object.apiVersion} ${object.kind}`);
  return model;
}

function podTemplate(object: K8sObject): { labels: Record<string, string>; spec: PodSpec } | undefined {
  if (object.kind !== 'Deployment' && object.kind !== 'StatefulSet') return undefined;
  const template = object.spec?.['template'] as {
    metadata?: { labels?: Record<string, string> };
    spec: PodSpec;
  };
  return { labels: template.metadata?.labels ?? {}, spec: template.spec };
}

interface PodSpec {
  volumes?: Array<{ name: string; configMap?: { name: string } }>;
  containers: Array<{
    name: string;
    image?: string;
    volumeMounts?: Array<{ name: string }>;
    env?: Array<{
      name: string;
      value?: string;
      valueFrom?: { secretKeyRef?: { name: string; key: string } };
    }>;
    envFrom?: Array<{ configMapRef?: { name: string } }>;
  }>;
}

function matches(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

const kustomizationDirs = yamlFiles(deployDir)
  .filter((file) => file.endsWith('kustomization.yaml'))
  .map((file) => dirname(file));

describe('deploy/kubernetes', () => {
  it('has a base and dev and prod overlays', () => {
    const names = kustomizationDirs.map((dir) => relative(deployDir, dir)).sort();
    expect(names).toEqual(['base', join('overlays', 'dev'), join('overlays', 'prod')]);
  });

  it.each(kustomizationDirs.map((dir) => [relative(deployDir, dir), dir]))(
    '%s: kustomization lists files that exist',
    (_name, dir) => {
      const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
      for (const entry of kustomization.resources ?? []) {
        const path = resolve(dir, entry);
        expect(existsSync(path), `${entry} exists`).toBe(true);
        if (statSync(path).isDirectory())
          expect(existsSync(join(path, 'kustomization.yaml')), `${entry}/kustomization.yaml`).toBe(true);
      }
      for (const patch of kustomization.patches ?? []) {
        if (patch.path) expect(existsSync(resolve(dir, patch.path)), `${patch.path} exists`).toBe(true);
        else expect(patch.patch, 'a patch without a file is inline').toBeTypeOf('string');
      }
    },
  );

  it('references every YAML file from a kustomization', () => {
    const referenced = new Set<string>();
    for (const dir of kustomizationDirs) {
      const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
      for (const entry of kustomization.resources ?? []) referenced.add(resolve(dir, entry));
      for (const patch of kustomization.patches ?? [])
        if (patch.path) referenced.add(resolve(dir, patch.path));
    }
    const orphans = yamlFiles(deployDir).filter(
      (file) => !file.endsWith('kustomization.yaml') && !referenced.has(file),
    );
    expect(orphans.map((file) => relative(deployDir, file))).toEqual([]);
  });

  const baseObjects = objectsOf(join(deployDir, 'base'));

  it.each(baseObjects.map((object) => [`${object.kind}/${object.metadata.name}`, object]))(
    '%s validates against the Kubernetes schema',
    (_name, object) => {
      const Model = modelFor(object);
      expect(() => new Model(object).validate()).not.toThrow();
    },
  );

  it('has unique kind/name pairs', () => {
    const keys = baseObjects.map((object) => `${object.kind}/${object.metadata.name}`);
    expect(keys.length).toBe(new Set(keys).size);
  });

  it('parses the YAML configuration held in config maps', () => {
    for (const configMap of baseObjects.filter((object) => object.kind === 'ConfigMap')) {
      for (const [key, value] of Object.entries(configMap.data ?? {})) {
        if (/\.ya?ml$/.test(key))
          expect(() => parse(value), `${configMap.metadata.name}/${key}`).not.toThrow();
      }
    }
  });

  it('wires selectors, services, config maps and volumes consistently', () => {
    const workloads = baseObjects.filter((object) => podTemplate(object));
    const names = (kind: string) =>
      new Set(baseObjects.filter((object) => object.kind === kind).map((object) => object.metadata.name));
    const configMaps = names('ConfigMap');
    const services = names('Service');

    for (const workload of workloads) {
      const template = podTemplate(workload);
      if (!template) continue;
      const selector = (workload.spec?.['selector'] as { matchLabels: Record<string, string> }).matchLabels;
      expect(matches(selector, template.labels), `${workload.metadata.name}: selector matches its pods`).toBe(
        true,
      );
      if (workload.kind === 'StatefulSet') {
        expect(
          services.has(workload.spec?.['serviceName'] as string),
          `${workload.metadata.name}: serviceName`,
        ).toBe(true);
      }
      const volumeNames = new Set((template.spec.volumes ?? []).map((volume) => volume.name));
      const claimNames = (
        (workload.spec?.['volumeClaimTemplates'] as Array<{ metadata: { name: string } }> | undefined) ?? []
      ).map((claim) => claim.metadata.name);
      for (const volume of template.spec.volumes ?? []) {
        if (volume.configMap)
          expect(
            configMaps.has(volume.configMap.name),
            `${workload.metadata.name}: config map ${volume.configMap.name}`,
          ).toBe(true);
      }
      for (const container of template.spec.containers) {
        for (const mount of container.volumeMounts ?? []) {
          expect(
            volumeNames.has(mount.name) || claimNames.includes(mount.name),
            `${workload.metadata.name}: volume ${mount.name}`,
          ).toBe(true);
        }
      }
    }

    for (const service of baseObjects.filter((object) => object.kind === 'Service')) {
      const selector = service.spec?.['selector'] as Record<string, string>;
      const selected = workloads.some((workload) => matches(selector, podTemplate(workload)?.labels ?? {}));
      expect(selected, `Service ${service.metadata.name} selects some pods`).toBe(true);
    }
  });

  it.each(['dev', 'prod'].map((name) => [name, join(deployDir, 'overlays', name)]))(
    'overlays/%s patches objects that exist, at paths that exist',
    (_name, dir) => {
      const objects = objectsOf(dir);
      const find = (kind: string | undefined, name: string | undefined) =>
        objects.find((object) => object.kind === kind && object.metadata.name === name);
      const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
      for (const patch of kustomization.patches ?? []) {
        if (patch.path) {
          for (const document of readDocuments(resolve(dir, patch.path))) {
            const target = asObject(document, patch.path);
            expect(
              find(target.kind, target.metadata.name),
              `${patch.path} targets ${target.kind}/${target.metadata.name}`,
            ).toBeDefined();
          }
          continue;
        }
        const target = find(patch.target?.kind, patch.target?.name);
        expect(target, `patch target ${patch.target?.kind}/${patch.target?.name}`).toBeDefined();
        const operations = parse(patch.patch ?? '') as Array<{ op: string; path: string }>;
        for (const operation of operations) {
          if (operation.op !== 'replace' && operation.op !== 'remove') continue;
          // JSON pointer: the replaced value must already exist.
          let cursor: unknown = target;
          for (const segment of operation.path.split('/').slice(1)) {
            cursor = (cursor as Record<string, unknown> | undefined)?.[
              segment.replace(/~1/g, '/').replace(/~0/g, '~')
            ];
          }
          expect(
            cursor,
            `${operation.path} exists in ${patch.target?.kind}/${patch.target?.name}`,
          ).toBeDefined();
        }
      }
    },
  );

  it('runs every app with NODE_ENV set explicitly and its own NATS identity’s seed from a Secret', () => {
    const platform = baseObjects.find(
      (object) => object.kind === 'ConfigMap' && object.metadata.name === 'tessera-platform',
    );
    expect(platform?.data?.['NODE_ENV']).toBe('production');
    const apps = baseObjects.filter(
      (object) =>
        object.kind === 'Deployment' &&
        podTemplate(object)?.spec.containers[0]?.image?.startsWith('tessera/'),
    );
    expect(apps.map((app) => app.metadata.name).sort()).toEqual([
      'billing',
      'chain-indexer',
      'inference-proxy',
      'scheduler',
    ]);
    for (const app of apps) {
      const container = podTemplate(app)?.spec.containers[0];
      const env = new Map((container?.env ?? []).map((variable) => [variable.name, variable]));
      const serviceName = env.get('SERVICE_NAME')?.value ?? '';
      expect(natsIdentities, `${app.metadata.name}: SERVICE_NAME is a NATS identity`).toContain(serviceName);
      expect(env.get('NATS_NKEY_SEED')?.valueFrom?.secretKeyRef, app.metadata.name).toEqual({
        name: 'tessera-nats-seeds',
        key: serviceName,
      });
      expect(container?.envFrom, app.metadata.name).toContainEqual({
        configMapRef: { name: 'tessera-platform' },
      });
    }
  });

  it('gives NATS the generated config and the identities’ public keys', () => {
    const nats = baseObjects.find(
      (object) => object.kind === 'StatefulSet' && object.metadata.name === 'nats',
    );
    const template = nats ? podTemplate(nats) : undefined;
    expect(template?.spec.volumes).toContainEqual({ name: 'config', configMap: { name: 'nats-config' } });
    expect(template?.spec.containers[0]?.envFrom).toEqual([{ configMapRef: { name: 'nats-user-nkeys' } }]);
  });

  it.each([
    ['prod', '/data/STREAM_REPLICAS', '3'],
    ['dev', '/data/NODE_ENV', 'development'],
  ])('overlays/%s sets %s of the platform config to %s', (overlay, path, value) => {
    const kustomization = parse(
      readFileSync(join(deployDir, 'overlays', overlay, 'kustomization.yaml'), 'utf8'),
    ) as Kustomization;
    const operations = (kustomization.patches ?? [])
      .filter((patch) => patch.target?.kind === 'ConfigMap' && patch.target.name === 'tessera-platform')
      .flatMap((patch) => parse(patch.patch ?? '') as Array<{ op: string; path: string; value: unknown }>);
    expect(operations).toContainEqual({ op: 'replace', path, value });
  });
});

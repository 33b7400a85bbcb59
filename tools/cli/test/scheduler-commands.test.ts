// `tessera deployments …` and `tessera miners list` against the scheduler's RPC contracts, on a
// nats-server that enforces the permissions table. The scheduler app is not on this branch yet
// (only its contracts are), so the test answers the contracts' subjects itself, connected as the
// `scheduler` identity: what is checked is the CLI's side — the exact request it sends (parsed by
// the contract, as the scheduler will parse it), what it prints, that the operator identity may
// call these subjects, and that a spec the contract refuses is never sent.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Msg, type NatsConnection } from '@nats-io/transport-node';
import {
  CreateDeployment,
  DeleteDeployment,
  GetDeployment,
  ListDeployments,
  ListMiners,
  type DeploymentView,
  type RpcContract,
  type RpcResponseOf,
} from '@tessera/contracts';
import { decodeJson, encodeJson, natsConnectionOptions } from '@tessera/platform/messaging';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tessera, type CliResult } from './processes.js';

const SHA256 = 'ab'.repeat(32);
const HOTKEY = '5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty';
const COLDKEY = '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY';

const deployment: DeploymentView = {
  deploymentId: 'acme-llama',
  name: 'acme/llama-3-8b',
  ownerAccountId: 'acme',
  model: { uri: 'https://models.example/llama.gguf', revision: 'v1', sha256: SHA256 },
  engine: { name: 'llama' },
  gpu: { count: 1, minVramMiB: 0, allowedTypes: ['h100'], excludedTypes: [] },
  concurrency: 8,
  minReplicas: 1,
  maxReplicas: 2,
  scaleToZeroAfterSeconds: 300,
  visibility: 'private',
  generation: 1,
  targetReplicas: 1,
  status: 'active',
  createdAt: '2026-12-01T00:00:00.000Z',
  updatedAt: '2026-12-01T00:00:00.000Z',
};

describe('tessera deployments / miners (scheduler contracts, NATS permissions enforced)', () => {
  let env: TestEnvironment;
  let scheduler: NatsConnection;
  let workDir: string;
  let operatorEnv: Record<string, string>;
  /** Every request the scheduler's subjects received, parsed by its contract. */
  const received: { subject: string; request: unknown }[] = [];

  const cli = (...args: string[]): Promise<CliResult> => tessera(args, operatorEnv, workDir);

  /** Answers `contract` as the scheduler would: the request parsed by the contract, `reply` from it. */
  function answer<C extends RpcContract>(
    contract: C,
    reply: (request: unknown) => NoInfer<RpcResponseOf<C>>,
  ): void {
    scheduler.subscribe(`${env.namespace}.${contract.subject}`, {
      callback: (_err, msg: Msg) => {
        const request = contract.request.parse(decodeJson(msg.data));
        received.push({ subject: contract.subject, request });
        msg.respond(encodeJson({ ok: true, result: contract.response.parse(reply(request)) }));
      },
    });
  }

  beforeAll(async () => {
    env = await useTestEnvironment({ natsAuthorization: true });
    const keys = env.natsKeys;
    if (!keys) throw new Error('natsAuthorization gives each identity a key');
    scheduler = await connect(
      natsConnectionOptions({
        NATS_URL: env.natsUrl,
        SERVICE_NAME: 'scheduler',
        NODE_ENV: 'production',
        NATS_NKEY_SEED: keys.scheduler.seed,
      }),
    );
    answer(CreateDeployment, () => deployment);
    answer(ListDeployments, () => ({ deployments: [deployment] }));
    answer(GetDeployment, (): RpcResponseOf<typeof GetDeployment> => ({
      ...deployment,
      instances: [
        {
          instanceId: 'inst-1',
          deploymentId: deployment.deploymentId,
          generation: 1,
          minerHotkey: HOTKEY,
          state: 'ready',
          gpuType: 'h100-80gb-hbm3',
          gpuCount: 1,
          gpus: [0],
          endpoint: 'http://127.0.0.1:9100/instances/inst-1',
          placedAt: '2026-12-01T00:00:01.000Z',
          readyAt: '2026-12-01T00:00:09.000Z',
          endedAt: null,
          reason: null,
        },
      ],
    }));
    answer(DeleteDeployment, () => ({ deploymentId: deployment.deploymentId, status: 'deleted' as const }));
    answer(ListMiners, (): RpcResponseOf<typeof ListMiners> => ({
      netuid: 1,
      observedAt: '2026-12-01T00:00:10.000Z',
      miners: [
        {
          hotkey: HOTKEY,
          coldkey: COLDKEY,
          uid: 3,
          axon: { ip: '127.0.0.1', port: 9100 },
          baseUrl: 'http://127.0.0.1:9100',
          status: 'healthy',
          lastSeenAt: '2026-12-01T00:00:10.000Z',
          consecutiveFailures: 0,
          capacity: {
            gpus: [
              { index: 0, gpuType: 'h100-80gb-hbm3', memoryTotalMiB: 81_559, instanceId: 'inst-1' },
              { index: 1, gpuType: 'h100-80gb-hbm3', memoryTotalMiB: 81_559, instanceId: null },
            ],
            engines: ['llama'],
            maxInstances: 4,
          },
          lastError: null,
        },
      ],
    }));
    await scheduler.flush();
    workDir = mkdtempSync(join(tmpdir(), 'tessera-cli-scheduler-'));
    operatorEnv = {
      NATS_URL: env.natsUrl,
      NATS_SUBJECT_PREFIX: env.namespace,
      NATS_NKEY_SEED: keys.operator.seed,
      TESSERA_DATA_DIR: join(workDir, 'no-data'),
    };
  }, 120_000);

  afterAll(async () => {
    await scheduler?.close();
    await env?.cleanup();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('creates a deployment from flags, sending exactly the spec typed', async () => {
    const created = await cli(
      'deployments',
      'create',
      '--id',
      'acme-llama',
      '--account',
      'acme',
      '--name',
      'acme/llama-3-8b',
      '--model-uri',
      'https://models.example/llama.gguf',
      '--model-revision',
      'v1',
      '--model-sha256',
      SHA256,
      '--engine',
      'llama',
      '--gpu-types',
      'h100',
      '--concurrency',
      '8',
      '--min-replicas',
      '1',
      '--max-replicas',
      '2',
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^deployment\s+acme-llama$/m);
    expect(created.stdout).toMatch(/^GPUs per replica\s+1× h100$/m);
    expect(created.stdout).toMatch(/^replicas\s+1 \(1–2\)$/m);
    expect(received.at(-1)).toEqual({
      subject: CreateDeployment.subject,
      request: {
        deploymentId: 'acme-llama',
        name: 'acme/llama-3-8b',
        ownerAccountId: 'acme',
        model: { uri: 'https://models.example/llama.gguf', revision: 'v1', sha256: SHA256 },
        engine: { name: 'llama' },
        gpu: { count: 1, minVramMiB: 0, allowedTypes: ['h100'], excludedTypes: [] },
        concurrency: 8,
        minReplicas: 1,
        maxReplicas: 2,
        scaleToZeroAfterSeconds: 300,
        visibility: 'private',
      },
    });
  });

  it('refuses a spec the contract refuses before sending it: exit 2, each field named', async () => {
    const before = received.length;
    const refused = await cli(
      'deployments',
      'create',
      '--account',
      'acme',
      '--name',
      'm',
      '--model-uri',
      '/models/m.gguf',
      '--model-revision',
      'v1',
      '--model-sha256',
      SHA256,
      '--engine',
      'llama',
      '--concurrency',
      '2',
      '--min-replicas',
      '3',
      '--max-replicas',
      '2',
      '--gpu-types',
      'h100',
      '--exclude-gpu-types',
      'h100',
    );
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^error VALIDATION_FAILED: /);
    expect(refused.stderr).toContain('field minReplicas: must not exceed maxReplicas (2)');
    expect(refused.stderr).toContain('field gpu.excludedTypes: must not repeat allowed types (h100)');

    const badId = await cli('deployments', 'get', '--deployment', 'Not An Id');
    expect(badId.code).toBe(2);
    expect(badId.stderr).toContain("option '--deployment <id>'");
    expect(received.length).toBe(before);
  });

  it('lists, shows and deletes deployments', async () => {
    const listed = await cli('deployments', 'list', '--account', 'acme');
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(
      /^acme-llama\s+acme\/llama-3-8b\s+acme\s+active\s+private\s+llama\s+1× h100\s+1 \(1–2\)$/m,
    );
    expect(received.at(-1)).toEqual({
      subject: ListDeployments.subject,
      request: { ownerAccountId: 'acme', includeDeleted: false },
    });

    const shown = await cli('deployments', 'get', '--deployment', 'acme-llama');
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(
      /^inst-1\s+ready\s+1\s+5FHne\w+\s+1× h100-80gb-hbm3\s+http:\/\/127\.0\.0\.1:9100\/instances\/inst-1\s+-$/m,
    );

    const deleted = await cli('--json', 'deployments', 'delete', '--deployment', 'acme-llama');
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(JSON.parse(deleted.stdout)).toEqual({ deploymentId: 'acme-llama', status: 'deleted' });
    expect(received.at(-1)).toEqual({
      subject: DeleteDeployment.subject,
      request: { deploymentId: 'acme-llama' },
    });
  });

  it('lists the miner fleet', async () => {
    const miners = await cli('miners', 'list');
    expect(miners.code, miners.stderr).toBe(0);
    expect(miners.stdout).toMatch(/^netuid\s+1$/m);
    expect(miners.stdout).toMatch(
      new RegExp(
        `^3\\s+${HOTKEY}\\s+healthy\\s+127\\.0\\.0\\.1:9100\\s+1/2 free \\(h100-80gb-hbm3\\)\\s+llama\\s`,
        'm',
      ),
    );
  });
});

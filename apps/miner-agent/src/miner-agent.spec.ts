import { readdir, readFile } from 'node:fs/promises';
import type { KeyringPair } from '@polkadot/keyring/types';
import { SignedRequestErrorCode, loadKeypair, signRequest } from '@tessera/bittensor';
import {
  ErrorCode,
  MinerErrorCode,
  capacityResponseSchema,
  controlErrorResponseSchema,
  instanceListResponseSchema,
  instanceStatusSchema,
  minerDataPlaneBasePath,
  type InstanceStatus,
  type LaunchInstanceRequest,
} from '@tessera/contracts';
import { eventually } from '@tessera/testkit';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMinerAgent, type MinerAgentProcess } from './__tests__/miner-agent-process.js';
import { SignedControlClient, type ControlAnswer } from './__tests__/signed-client.js';
import { tinyModels, type TinyModels } from './__tests__/tiny-models.js';

const key = async (uri: string): Promise<KeyringPair> => (await loadKeypair({ seed: uri }, 42))!;
const token = (name: string): string => `tok_${name}_${'x'.repeat(40)}`;
const errorCode = (answer: ControlAnswer): string => controlErrorResponseSchema.parse(answer.body).error.code;

describe('miner-agent process: signed control API, engines, data plane', () => {
  let models: TinyModels;
  let model: { path: string; sha256: string };
  let agent: MinerAgentProcess;
  let miner: KeyringPair;
  let validator: KeyringPair;
  let control: SignedControlClient;

  const launch = (
    instanceId: string,
    overrides: Partial<LaunchInstanceRequest> = {},
  ): LaunchInstanceRequest => ({
    instanceId,
    deploymentId: 'dep-tiny',
    model: { name: 'tiny-chat', uri: `file://${model.path}`, sha256: model.sha256 },
    engine: { name: 'llama' },
    gpus: [0],
    concurrency: 2,
    dataPlaneToken: token(instanceId),
    ...overrides,
  });

  const status = async (instanceId: string): Promise<InstanceStatus> =>
    instanceStatusSchema.parse((await control.get(`/instances/${instanceId}`)).body);

  const untilSettled = (instanceId: string): Promise<InstanceStatus> =>
    eventually(() => status(instanceId), `instance ${instanceId} past starting`, {
      until: (current) => current.state !== 'starting',
    });

  const openai = (instanceId: string, apiKey: string): OpenAI =>
    new OpenAI({ baseURL: `${agent.baseUrl}${minerDataPlaneBasePath(instanceId)}`, apiKey, maxRetries: 0 });

  /** Everything a refused request must leave as it was. */
  const observableState = async () => ({
    instances: instanceListResponseSchema.parse((await control.get('/instances')).body),
    capacity: capacityResponseSchema.parse((await control.get('/capacity')).body),
  });

  beforeAll(async () => {
    models = await tinyModels();
    model = await models.write('tiny.gguf', 5);
    miner = await key('//AgentMiner');
    validator = await key('//AgentValidator');
    agent = await startMinerAgent({
      MINER_HOTKEY_SEED: '//AgentMiner',
      ALLOWED_VALIDATOR_HOTKEYS: validator.address,
      GPUS: '3xcpu:0',
      MODEL_CACHE_DIR: `${models.dir}/cache`,
    });
    control = new SignedControlClient(agent.baseUrl, validator, miner.address);
  });

  afterAll(async () => {
    await agent?.stop();
    await models?.cleanup();
  });

  it('reports capacity from the declared GPUs, signed by the miner', async () => {
    const answer = await control.get('/capacity');
    expect(answer.status).toBe(200);
    expect(answer.signedBy).toBe(miner.address);
    const capacity = capacityResponseSchema.parse(answer.body);
    expect(capacity).toMatchObject({
      minerHotkey: miner.address,
      gpuSource: 'declared',
      freeGpus: 3,
      engines: ['llama', 'llama-server'],
      instancesRunning: 0,
      maxInstances: 3,
    });
    expect(capacity.gpus.map((gpu) => [gpu.index, gpu.name, gpu.instanceId])).toEqual([
      [0, 'cpu', null],
      [1, 'cpu', null],
      [2, 'cpu', null],
    ]);
  });

  it('launches an instance that becomes ready serving the model it was given', async () => {
    const answer = await control.post('/instances', launch('inst-a'));
    expect(answer.status).toBe(202);
    expect(answer.signedBy).toBe(miner.address);
    expect(instanceStatusSchema.parse(answer.body).state).toBe('starting');
    const ready = await untilSettled('inst-a');
    expect(ready).toMatchObject({ state: 'ready', modelSha256: model.sha256, gpus: [0], reason: null });
    expect(JSON.stringify(answer.body)).not.toContain(token('inst-a'));
  });

  it('serves chat through the data plane with the instance token, plain and streaming', async () => {
    const client = openai('inst-a', token('inst-a'));
    const plain = await client.chat.completions.create({
      model: 'tiny-chat',
      messages: [{ role: 'user', content: 'hello world' }],
      max_tokens: 8,
      temperature: 0,
    });
    expect(plain.usage?.completion_tokens).toBe(8);
    const stream = await client.chat.completions.create({
      model: 'tiny-chat',
      messages: [{ role: 'user', content: 'hello world' }],
      max_tokens: 8,
      temperature: 0,
      stream: true,
    });
    let text = '';
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(chunks).toBeGreaterThan(3);
    expect(text).toBe(plain.choices[0]?.message.content);
  });

  it('refuses the data plane without a token, with a wrong one, and for an unknown instance', async () => {
    const ask = (client: OpenAI) =>
      client.chat.completions.create({
        model: 'tiny-chat',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 2,
      });
    await expect(ask(openai('inst-a', 'no-such-token'))).rejects.toMatchObject({
      status: 401,
      code: 'invalid_api_key',
    });
    const bare = await fetch(`${agent.baseUrl}/instances/inst-a/v1/models`);
    expect(bare.status).toBe(401);
    expect(await bare.json()).toMatchObject({
      error: { type: 'invalid_request_error', code: 'invalid_api_key' },
    });
    await expect(ask(openai('nope', token('inst-a')))).rejects.toMatchObject({ status: 404 });
  });

  it('runs a command engine (llama-server template, here its CPU stand-in process) with identical greedy output', async () => {
    const answer = await control.post(
      '/instances',
      launch('inst-b', { engine: { name: 'llama-server', args: [] }, gpus: [1] }),
    );
    expect(answer.status).toBe(202);
    expect(await untilSettled('inst-b')).toMatchObject({
      state: 'ready',
      engine: 'llama-server',
      modelSha256: model.sha256,
    });

    const ask = (instanceId: string) =>
      openai(instanceId, token(instanceId)).chat.completions.create({
        model: 'tiny-chat',
        messages: [{ role: 'user', content: 'the tiny model is' }],
        max_tokens: 16,
        temperature: 0,
        seed: 3,
      });
    const [inProcess, asProcess] = await Promise.all([ask('inst-a'), ask('inst-b')]);
    expect(asProcess.choices[0]?.message.content).toBe(inProcess.choices[0]?.message.content);

    // Each instance's token opens only that instance.
    await expect(
      openai('inst-b', token('inst-a')).chat.completions.create({
        model: 'tiny-chat',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).rejects.toMatchObject({ status: 401 });
  });

  it('serves embeddings through the data plane', async () => {
    const result = await openai('inst-b', token('inst-b')).embeddings.create({
      model: 'tiny-chat',
      input: ['hello world', 'tiny'],
    });
    expect(result.data).toHaveLength(2);
    expect(result.data[0]?.embedding).toHaveLength(64);
    expect(result.usage.prompt_tokens).toBe(5);
  });

  it('refuses a launch beyond free capacity with a typed error, changing nothing', async () => {
    const before = await observableState();
    const busy = await control.post('/instances', launch('inst-c', { gpus: [0] }));
    expect(busy.status).toBe(409);
    expect(busy.signedBy).toBe(miner.address);
    expect(errorCode(busy)).toBe(MinerErrorCode.CapacityExceeded);
    const missing = await control.post('/instances', launch('inst-c', { gpus: [7] }));
    expect(errorCode(missing)).toBe(MinerErrorCode.CapacityExceeded);
    const invalid = await control.post('/instances', { ...launch('inst-c', { gpus: [2] }), concurrency: 0 });
    expect(invalid.status).toBe(400);
    expect(errorCode(invalid)).toBe(ErrorCode.ValidationFailed);
    expect(await observableState()).toEqual(before);
  });

  it('treats the same launch again as a no-op and the same id with another request as a conflict', async () => {
    const again = await control.post('/instances', launch('inst-a'));
    expect(again.status).toBe(202);
    expect(instanceStatusSchema.parse(again.body).state).toBe('ready');
    const other = await control.post('/instances', launch('inst-a', { concurrency: 1 }));
    expect(other.status).toBe(409);
    expect(errorCode(other)).toBe(MinerErrorCode.InstanceConflict);
  });

  it('refuses forged, replayed, expired, wrongly addressed and disallowed requests, changing nothing', async () => {
    const before = await observableState();
    const stranger = await key('//NotAllowed');
    const launchC = launch('inst-c', { gpus: [2] });

    // Replayed: the same signed headers a second time.
    const first = await control.get('/capacity');
    expect(first.status).toBe(200);
    const replay = await control.get('/capacity', { headers: control.lastHeaders! });
    expect([replay.status, errorCode(replay)]).toEqual([401, SignedRequestErrorCode.NonceReplayed]);

    // Forged: an allowed hotkey's name on a stranger's signature.
    const strangerSigned = signRequest({
      signer: stranger,
      minerHotkey: miner.address,
      body: JSON.stringify(launchC),
    });
    const forged = await control.post('/instances', launchC, {
      headers: { ...strangerSigned, 'validator-hotkey': validator.address },
    });
    expect([forged.status, errorCode(forged)]).toEqual([401, SignedRequestErrorCode.SignatureInvalid]);

    // Tampered: a validly signed launch whose body was changed on the way.
    const tampered = await control.post('/instances', launchC, {
      bodyOverride: JSON.stringify({ ...launchC, gpus: [0, 1, 2] }),
    });
    expect([tampered.status, errorCode(tampered)]).toEqual([401, SignedRequestErrorCode.SignatureInvalid]);

    // Expired: signed five minutes ago.
    const expired = await control.post('/instances', launchC, {
      clock: { now: () => new Date(Date.now() - 300_000) },
    });
    expect([expired.status, errorCode(expired)]).toEqual([401, SignedRequestErrorCode.NonceExpired]);

    // Wrongly addressed: signed for another miner.
    const elsewhere = await control.post('/instances', launchC, { addressee: stranger.address });
    expect([elsewhere.status, errorCode(elsewhere)]).toEqual([401, SignedRequestErrorCode.WrongAddressee]);

    // Disallowed: a correctly signed request from a hotkey the miner does not accept.
    const disallowed = await new SignedControlClient(agent.baseUrl, stranger, miner.address).post(
      '/instances',
      launchC,
    );
    expect([disallowed.status, errorCode(disallowed)]).toEqual([
      403,
      SignedRequestErrorCode.HotkeyNotAllowed,
    ]);
    expect(disallowed.signedBy).toBeUndefined();

    expect(await observableState()).toEqual(before);
  });

  it('fails an instance whose model does not match the expected sha256, freeing its GPU', async () => {
    const answer = await control.post(
      '/instances',
      launch('inst-bad', {
        gpus: [2],
        model: { name: 'tiny-chat', uri: model.path, sha256: '0'.repeat(64) },
      }),
    );
    expect(answer.status).toBe(202);
    const failed = await untilSettled('inst-bad');
    expect(failed.state).toBe('failed');
    expect(failed.reason).toContain('sha256');
    const capacity = capacityResponseSchema.parse((await control.get('/capacity')).body);
    expect(capacity.gpus[2]?.instanceId).toBeNull();
  });

  it('reports a command engine that dies (kill -9) as failed, with its last output, and frees its GPU', async () => {
    const enginePids = await childPids(agent.process.pid);
    expect(enginePids.length).toBe(1);
    process.kill(enginePids[0]!, 'SIGKILL');
    const failed = await eventually(() => status('inst-b'), 'inst-b failed', {
      until: (current) => current.state === 'failed',
    });
    expect(failed.reason).toMatch(/exited \(signal SIGKILL\)/);
    const capacity = capacityResponseSchema.parse((await control.get('/capacity')).body);
    expect(capacity.gpus[1]?.instanceId).toBeNull();
    await expect(
      openai('inst-b', token('inst-b')).chat.completions.create({
        model: 'tiny-chat',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).rejects.toMatchObject({ status: 503 });
    // The other instance is unaffected.
    expect((await status('inst-a')).state).toBe('ready');
  });

  it('stops an instance on request: GPU free, data plane closed', async () => {
    const answer = await control.delete('/instances/inst-a');
    expect(answer.status).toBe(200);
    expect(instanceStatusSchema.parse(answer.body)).toMatchObject({
      state: 'stopped',
      reason: 'stopped on request',
    });
    const capacity = capacityResponseSchema.parse((await control.get('/capacity')).body);
    expect(capacity).toMatchObject({ freeGpus: 3, instancesRunning: 0 });
    await expect(
      openai('inst-a', token('inst-a')).chat.completions.create({
        model: 'tiny-chat',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).rejects.toMatchObject({ status: 503 });
    const unknown = await control.get('/instances/never-launched');
    expect([unknown.status, errorCode(unknown)]).toEqual([404, ErrorCode.NotFound]);
  });

  it('stops its command engines when it is stopped (SIGTERM)', async () => {
    const answer = await control.post(
      '/instances',
      launch('inst-d', { engine: { name: 'llama-server', args: [] }, gpus: [1] }),
    );
    expect(answer.status).toBe(202);
    expect((await untilSettled('inst-d')).state).toBe('ready');
    const [enginePid] = await childPids(agent.process.pid);
    expect(enginePid).toBeDefined();
    await agent.stop();
    expect(agent.process.exitInfo()).toEqual({ code: 0, signal: null });
    expect(isAlive(enginePid!)).toBe(false);
  });

  it('leaves no engine behind when it is killed (kill -9)', async () => {
    const doomed = await startMinerAgent({
      MINER_HOTKEY_SEED: '//AgentMiner',
      ALLOWED_VALIDATOR_HOTKEYS: validator.address,
      GPUS: '1xcpu:0',
      MODEL_CACHE_DIR: `${models.dir}/cache`,
    });
    try {
      const client = new SignedControlClient(doomed.baseUrl, validator, miner.address);
      const answer = await client.post(
        '/instances',
        launch('inst-e', { engine: { name: 'llama-server', args: [] } }),
      );
      expect(answer.status).toBe(202);
      const ready = await eventually(
        async () => instanceStatusSchema.parse((await client.get('/instances/inst-e')).body),
        'inst-e past starting',
        { until: (current) => current.state !== 'starting' },
      );
      expect(ready.state).toBe('ready');
      const [enginePid] = await childPids(doomed.process.pid);
      expect(enginePid).toBeDefined();
      await doomed.process.kill('SIGKILL');
      // The kernel signals the engine when its parent dies (setpriv --pdeathsig).
      expect(
        await eventually(async () => isAlive(enginePid!), 'the engine gone with its parent', {
          until: (alive) => !alive,
        }),
      ).toBe(false);
    } finally {
      await doomed.stop();
    }
  });
});

/** Pids of the processes whose parent is `pid` (the agent's engine processes). */
async function childPids(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Field 4 is the parent pid; the command name (field 2) may contain spaces, so split after it.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) === pid) children.push(Number(entry));
  }
  return children;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

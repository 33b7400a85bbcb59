import {
  CreditAccount,
  DemandObserved,
  InstanceUnhealthy,
  IssueApiKey,
  OpenAccount,
  RequestCompleted,
  SetModelPrice,
} from '@tessera/contracts';
import { type ManagedProcess } from '@tessera/devservers';
import { eventually, useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  outside,
  startBillingProcess,
  startMiner,
  startProxyProcess,
  type MinerHarness,
  type Outside,
  type ProxyProcess,
} from './__tests__/edge-processes.js';

describe('inference proxy: routing over miners that die, and models that are cold', () => {
  let env: TestEnvironment;
  let billing: ManagedProcess;
  let minerA: MinerHarness;
  let minerB: MinerHarness;
  let proxy: ProxyProcess;
  let world: Outside;
  let client: OpenAI;

  beforeAll(async () => {
    env = await useTestEnvironment();
    world = await outside(env);
    billing = await startBillingProcess(env);
    for (const model of ['tiny-chat', 'cold-chat']) {
      await world.rpc.call(SetModelPrice, {
        model,
        inputNanoUsdPerMillion: '1000',
        outputNanoUsdPerMillion: '2000',
      });
    }
    await world.rpc.call(OpenAccount, { accountId: 'acct-routing', name: 'routing' });
    await world.rpc.call(CreditAccount, {
      accountId: 'acct-routing',
      idempotencyKey: 'seed',
      amount: '100000000000',
    });
    const key = (await world.rpc.call(IssueApiKey, { accountId: 'acct-routing', scopes: ['inference'] })).key;
    [minerA, minerB] = await Promise.all([
      startMiner(11, '//ProxyTestMinerC'),
      startMiner(11, '//ProxyTestMinerD'),
    ]);
    await Promise.all([minerA.launch('inst-f1'), minerB.launch('inst-f2')]);
    await world.instanceReady(minerA, 'inst-f1');
    await world.instanceReady(minerB, 'inst-f2');
    // A deployment that had an instance and has none now: cold.
    await world.instanceReady(minerB, 'inst-cold-old', { deploymentId: 'dep-cold', model: 'cold-chat' });
    await world.instanceStopped(minerB, 'inst-cold-old', { deploymentId: 'dep-cold' });
    proxy = await startProxyProcess(env, {
      BREAKER_CONSECUTIVE_FAILURES: '2',
      BREAKER_HALF_OPEN_AFTER_MS: '600000',
      CAPACITY_WAIT_MS: '1500',
    });
    client = new OpenAI({ baseURL: `${proxy.baseUrl}/v1`, apiKey: key, maxRetries: 0 });
  }, 240_000);

  afterAll(async () => {
    await proxy?.process.stop('SIGTERM', 10_000);
    await minerA?.stop();
    await minerB?.stop();
    await billing?.stop('SIGTERM', 10_000);
    await world?.close();
    await env?.cleanup();
  });

  it('retries on another instance when a miner dies before the first byte, and reports the dead one', async () => {
    await minerA.process.kill('SIGKILL');
    const answers = await Promise.all(
      Array.from({ length: 6 }, () =>
        client.chat.completions
          .create({ model: 'tiny-chat', messages: [{ role: 'user', content: 'hello' }], max_tokens: 4 })
          .withResponse(),
      ),
    );
    for (const { data } of answers) expect(data.usage?.completion_tokens).toBe(4);
    const ids = new Set(answers.map(({ response }) => response.headers.get('x-request-id')));
    const events = await eventually(
      () => world.inferenceEvents(),
      'requests metered and the dead instance reported',
      {
        until: (found) =>
          found.filter((event) => RequestCompleted.is(event) && ids.has(event.data.requestId)).length ===
            ids.size && found.some((event) => InstanceUnhealthy.is(event)),
      },
    );
    for (const event of events) {
      if (RequestCompleted.is(event) && ids.has(event.data.requestId)) {
        expect(event.data).toMatchObject({ instanceId: 'inst-f2', status: 'succeeded' });
      }
    }
    const unhealthy = events.filter((event) => InstanceUnhealthy.is(event));
    expect(unhealthy).toHaveLength(1);
    expect(unhealthy[0]!.data).toMatchObject({
      instanceId: 'inst-f1',
      minerHotkey: minerA.hotkey,
      source: 'proxy-a',
    });
  });

  it('ends a stream whose miner dies mid-way with an error event, charging what was streamed', async () => {
    const streamed = await client.chat.completions
      .create({
        model: 'tiny-chat',
        messages: [{ role: 'user', content: 'tell me a very long story' }],
        max_tokens: 4000,
        stream: true,
      })
      .withResponse();
    const requestId = streamed.response.headers.get('x-request-id')!;
    let chunks = 0;
    const failure = await (async () => {
      try {
        for await (const _chunk of streamed.data) {
          if (++chunks === 5) await minerB.process.kill('SIGKILL');
        }
        return undefined;
      } catch (err) {
        return err;
      }
    })();
    expect(failure).toBeInstanceOf(OpenAI.APIError);
    const events = await eventually(() => world.inferenceEvents(), 'the broken stream metered', {
      until: (found) =>
        found.some((event) => RequestCompleted.is(event) && event.data.requestId === requestId),
    });
    const completed = events.find(
      (event) => RequestCompleted.is(event) && event.data.requestId === requestId,
    );
    if (!completed || !RequestCompleted.is(completed)) throw new Error('unreachable');
    expect(completed.data.status).toBe('failed');
    expect(completed.data.streamed).toBe(true);
    expect(completed.data.completionTokens).toBeGreaterThan(0);
    expect(completed.data.completionTokens).toBeLessThan(4000);
  });

  it('answers 503 with retry-after for a cold model once the wait is over, and reports the demand', async () => {
    const refused = await client.chat.completions
      .create({ model: 'cold-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 })
      .then(
        () => undefined,
        (err: unknown) => err as InstanceType<typeof OpenAI.APIError>,
      );
    expect(refused).toBeInstanceOf(OpenAI.InternalServerError);
    expect(refused).toMatchObject({ status: 503, code: 'no_capacity' });
    expect(Number(refused?.headers?.get('retry-after'))).toBeGreaterThan(0);
    const events = await eventually(() => world.inferenceEvents(), 'demand for the cold deployment', {
      until: (found) =>
        found.some((event) => DemandObserved.is(event) && event.data.deploymentId === 'dep-cold'),
    });
    const demand = events.find((event) => DemandObserved.is(event) && event.data.deploymentId === 'dep-cold');
    if (!demand || !DemandObserved.is(demand)) throw new Error('unreachable');
    expect(demand.data.queued).toBeGreaterThanOrEqual(1);
    expect(demand.data.source).toBe('proxy-a');
  });

  it('scales from zero: a request waiting for a cold model is served once an instance becomes ready', async () => {
    const miner = await startMiner(11, '//ProxyTestMinerE');
    try {
      await miner.launch('inst-cold-new', { deploymentId: 'dep-cold', model: 'cold-chat' });
      const slowProxy = await startProxyProcess(env, { CAPACITY_WAIT_MS: '60000', PROXY_REPLICA: 'proxy-b' });
      try {
        const coldClient = new OpenAI({
          baseURL: `${slowProxy.baseUrl}/v1`,
          apiKey: client.apiKey,
          maxRetries: 0,
        });
        const warmup = fetch(`${slowProxy.baseUrl}/v1/deployments/dep-cold/warmup`, {
          headers: { authorization: `Bearer ${client.apiKey}` },
        }).then(async (response) => ({ status: response.status, text: await response.text() }));
        const waiting = coldClient.chat.completions.create({
          model: 'cold-chat',
          messages: [{ role: 'user', content: 'hi' }],
          max_tokens: 3,
        });
        await eventually(() => world.inferenceEvents(), 'demand from the waiting request', {
          until: (found) =>
            found.some((event) => DemandObserved.is(event) && event.data.source === 'proxy-b'),
        });
        await world.instanceReady(miner, 'inst-cold-new', { deploymentId: 'dep-cold', model: 'cold-chat' });
        const answer = await waiting;
        expect(answer.usage?.completion_tokens).toBe(3);
        // The warm-up stream went from cold to ready, then ended.
        const watched = await warmup;
        expect(watched.status).toBe(200);
        const states = watched.text
          .split('\n\n')
          .filter((frame) => frame.startsWith('data: '))
          .map((frame) => (JSON.parse(frame.slice(6)) as { state: string }).state);
        expect(states).toEqual(['cold', 'warming', 'ready']);
      } finally {
        await slowProxy.process.stop('SIGTERM', 10_000);
      }
    } finally {
      await miner.stop();
    }
  });
});

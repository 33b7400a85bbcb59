import { CreditAccount, IssueApiKey, OpenAccount, RequestCompleted, SetModelPrice } from '@tessera/contracts';
import { sleep, type ManagedProcess } from '@tessera/devservers';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
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

describe('inference proxy: serving through a NATS outage', () => {
  let env: TestEnvironment;
  let billing: ManagedProcess;
  let miner: MinerHarness;
  let proxy: ProxyProcess;
  let world: Outside;
  let client: OpenAI;

  beforeAll(async () => {
    env = await useTestEnvironment({ dedicatedNats: true });
    world = await outside(env);
    billing = await startBillingProcess(env);
    await world.rpc.call(SetModelPrice, {
      model: 'tiny-chat',
      inputNanoUsdPerMillion: '1000',
      outputNanoUsdPerMillion: '2000',
    });
    await world.rpc.call(OpenAccount, { accountId: 'acct-outage', name: 'outage' });
    await world.rpc.call(CreditAccount, {
      accountId: 'acct-outage',
      idempotencyKey: 'seed',
      amount: '1000000000',
    });
    const key = (await world.rpc.call(IssueApiKey, { accountId: 'acct-outage', scopes: ['inference'] })).key;
    miner = await startMiner(11, '//ProxyTestMinerOutage');
    await miner.launch('inst-o1');
    await world.instanceReady(miner, 'inst-o1');
    // Grants settle once a minute here, so the grant the first request takes outlives the outage.
    proxy = await startProxyProcess(env, { SETTLE_INTERVAL_MS: '60000', PROBE_INTERVAL_MS: '0' });
    client = new OpenAI({ baseURL: `${proxy.baseUrl}/v1`, apiKey: key, maxRetries: 0 });
  }, 240_000);

  afterAll(async () => {
    await proxy?.process.stop('SIGTERM', 10_000);
    await miner?.stop();
    await billing?.stop('SIGTERM', 10_000);
    await world?.close();
    await env?.cleanup();
  });

  it('answers with NATS (and so billing) down, and meters every request once NATS is back', async () => {
    const ask = () =>
      client.chat.completions
        .create({ model: 'tiny-chat', messages: [{ role: 'user', content: 'hello' }], max_tokens: 3 })
        .withResponse();
    const warm = await ask();
    await env.natsServer!.kill();
    const during = [await ask(), await ask(), await ask()];
    for (const { data } of during) expect(data.usage?.completion_tokens).toBe(3);
    await env.natsServer!.restart();

    const ids = [warm, ...during].map(({ response }) => response.headers.get('x-request-id')!);
    let counts = new Map<string, number>();
    for (let attempt = 0; attempt < 600; attempt++) {
      counts = new Map();
      try {
        for (const event of await world.inferenceEvents()) {
          if (RequestCompleted.is(event))
            counts.set(event.data.requestId, (counts.get(event.data.requestId) ?? 0) + 1);
        }
      } catch {
        // The test's own connection is reconnecting too.
      }
      if (ids.every((id) => counts.has(id))) break;
      await sleep(100);
    }
    for (const id of ids) expect(counts.get(id), id).toBe(1);
  });
});

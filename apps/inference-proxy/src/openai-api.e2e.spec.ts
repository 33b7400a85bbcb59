import { CreditAccount, IssueApiKey, OpenAccount, RequestCompleted, SetModelPrice } from '@tessera/contracts';
import { sleep, type ManagedProcess } from '@tessera/devservers';
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

/** Every RequestCompleted on the INFERENCE stream, by request id. */
async function completedRequests(
  world: Outside,
): Promise<Map<string, ReturnType<typeof RequestCompleted.parse>[]>> {
  const byId = new Map<string, ReturnType<typeof RequestCompleted.parse>[]>();
  for (const event of await world.inferenceEvents()) {
    if (!RequestCompleted.is(event)) continue;
    const list = byId.get(event.data.requestId) ?? [];
    list.push(event as ReturnType<typeof RequestCompleted.parse>);
    byId.set(event.data.requestId, list);
  }
  return byId;
}

describe('inference proxy: the OpenAI API through the official SDK, against billing and a miner-agent', () => {
  let env: TestEnvironment;
  let billing: ManagedProcess;
  let miner: MinerHarness;
  let proxy: ProxyProcess;
  let world: Outside;
  let apiKey: string;
  let client: OpenAI;
  const accountId = 'acct-proxy-e2e';

  beforeAll(async () => {
    env = await useTestEnvironment();
    world = await outside(env);
    billing = await startBillingProcess(env);
    await world.rpc.call(OpenAccount, { accountId, name: 'Proxy E2E' });
    await world.rpc.call(CreditAccount, { accountId, idempotencyKey: 'seed-credit', amount: '5000000000' });
    await world.rpc.call(SetModelPrice, {
      model: 'tiny-chat',
      inputNanoUsdPerMillion: '1000000',
      outputNanoUsdPerMillion: '2000000',
    });
    apiKey = (await world.rpc.call(IssueApiKey, { accountId, name: 'e2e', scopes: ['inference'] })).key;
    miner = await startMiner(11, '//ProxyTestMinerA');
    await miner.launch('inst-a');
    // The scheduler's job: this test publishes the instance it would route to.
    await world.instanceReady(miner, 'inst-a');
    // A small body limit, so the oversized request below is sent whole before the proxy answers
    // 413 (a body still in flight when the server closes reaches the client as EPIPE, not a status).
    proxy = await startProxyProcess(env, { MAX_BODY_BYTES: '16384' });
    client = new OpenAI({ baseURL: `${proxy.baseUrl}/v1`, apiKey, maxRetries: 0 });
  }, 240_000);

  afterAll(async () => {
    await proxy?.process.stop('SIGTERM', 10_000);
    await miner?.stop();
    await billing?.stop('SIGTERM', 10_000);
    await world?.close();
    await env?.cleanup();
  });

  it('answers a chat completion with usage and an x-request-id, metered once', async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: 'tiny-chat',
        messages: [{ role: 'user', content: 'hello world' }],
        max_tokens: 8,
        temperature: 0,
      })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.usage?.completion_tokens).toBe(8);
    const requestId = response.headers.get('x-request-id');
    expect(requestId).toMatch(/^req_[0-9a-f]{32}$/);
    const completed = await eventually(() => completedRequests(world), 'RequestCompleted', {
      until: (byId) => byId.has(requestId!),
    });
    const events = completed.get(requestId!)!;
    expect(events).toHaveLength(1);
    expect(events[0]!.data).toMatchObject({
      accountId,
      model: 'tiny-chat',
      promptTokens: data.usage?.prompt_tokens,
      completionTokens: 8,
      streamed: false,
      instanceId: 'inst-a',
      minerHotkey: miner.hotkey,
      status: 'succeeded',
    });
    expect(events[0]!.data.grantId).not.toBeNull();
  });

  it('streams chat chunk by chunk; the usage chunk reaches the client only when it asked, and every stream is metered', async () => {
    const plain = await client.chat.completions.create({
      model: 'tiny-chat',
      messages: [{ role: 'user', content: 'tell me a story' }],
      max_tokens: 12,
      temperature: 0,
    });
    const withoutUsage = await client.chat.completions
      .create({
        model: 'tiny-chat',
        messages: [{ role: 'user', content: 'tell me a story' }],
        max_tokens: 12,
        temperature: 0,
        stream: true,
      })
      .withResponse();
    let text = '';
    let chunks = 0;
    for await (const chunk of withoutUsage.data) {
      chunks++;
      expect(chunk.usage ?? undefined).toBeUndefined();
      text += chunk.choices[0]?.delta.content ?? '';
    }
    expect(chunks).toBeGreaterThan(3);
    expect(text).toBe(plain.choices[0]?.message.content);

    const withUsage = await client.chat.completions.create({
      model: 'tiny-chat',
      messages: [{ role: 'user', content: 'tell me a story' }],
      max_tokens: 12,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of withUsage) if (chunk.usage) usage = chunk.usage;
    expect(usage?.completion_tokens).toBe(12);

    const requestId = withoutUsage.response.headers.get('x-request-id')!;
    const completed = await eventually(() => completedRequests(world), 'streamed RequestCompleted', {
      until: (byId) => byId.has(requestId),
    });
    expect(completed.get(requestId)![0]!.data).toMatchObject({
      streamed: true,
      completionTokens: 12,
      status: 'succeeded',
    });
  });

  it('charges a stream the client walked away from for what was streamed, as cancelled', async () => {
    const streamed = await client.chat.completions
      .create({
        model: 'tiny-chat',
        messages: [{ role: 'user', content: 'a long one please' }],
        max_tokens: 4000,
        stream: true,
      })
      .withResponse();
    let chunks = 0;
    for await (const _chunk of streamed.data) {
      if (++chunks === 5) break; // leaving the loop aborts the request
    }
    const requestId = streamed.response.headers.get('x-request-id')!;
    const completed = await eventually(() => completedRequests(world), 'cancelled RequestCompleted', {
      until: (byId) => byId.has(requestId),
    });
    const data = completed.get(requestId)![0]!.data;
    expect(data.status).toBe('cancelled');
    expect(data.completionTokens).toBeGreaterThan(0);
    expect(data.completionTokens).toBeLessThan(4000);
  });

  it('serves completions, embeddings and the model list', async () => {
    const completion = await client.completions.create({
      model: 'tiny-chat',
      prompt: 'once upon',
      max_tokens: 5,
    });
    expect(completion.object).toBe('text_completion');
    expect(completion.usage?.completion_tokens).toBe(5);
    const embedding = await client.embeddings.create({ model: 'tiny-chat', input: 'hello world' });
    expect(embedding.data[0]?.embedding.length).toBeGreaterThan(0);
    const models = await client.models.list();
    expect(models.data.map((model) => model.id)).toEqual(['tiny-chat']);
    expect((await client.models.retrieve('tiny-chat')).id).toBe('tiny-chat');
  });

  it('maps refusals onto the SDK error classes, in OpenAI shape, and meters none of them', async () => {
    const ask = (sdk: OpenAI, body: Partial<OpenAI.ChatCompletionCreateParamsNonStreaming> = {}) =>
      sdk.chat.completions.create({
        model: 'tiny-chat',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 2,
        ...body,
      } as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const badKey = new OpenAI({
      baseURL: `${proxy.baseUrl}/v1`,
      apiKey: 'tsk_0000000000000000_' + 'x'.repeat(43),
      maxRetries: 0,
    });
    await expect(ask(badKey)).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    await expect(ask(badKey)).rejects.toMatchObject({ status: 401, code: 'invalid_api_key' });
    await expect(ask(client, { model: 'no-such-model' })).rejects.toBeInstanceOf(OpenAI.NotFoundError);
    await expect(ask(client, { model: 'no-such-model' })).rejects.toMatchObject({
      code: 'model_not_found',
      param: 'model',
    });
    await expect(ask(client, { temperature: 7 })).rejects.toBeInstanceOf(OpenAI.BadRequestError);
    await expect(ask(client, { temperature: 7 })).rejects.toMatchObject({
      param: 'temperature',
      type: 'invalid_request_error',
    });
    await expect(ask(client, { messages: [] })).rejects.toMatchObject({ status: 400, param: 'messages' });
    const unknown = await fetch(`${proxy.baseUrl}/v1/nothing-here`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { type: 'invalid_request_error', param: null } });
    const badJson = await fetch(`${proxy.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: '{"model": ',
    });
    expect(badJson.status, await badJson.clone().text()).toBe(400);
    expect(await badJson.json()).toMatchObject({ error: { type: 'invalid_request_error' } });
    const huge = await fetch(`${proxy.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'tiny-chat',
        messages: [{ role: 'user', content: 'x'.repeat(20_000) }],
      }),
    });
    expect(huge.status, await huge.clone().text()).toBe(413);
    expect(await huge.json()).toMatchObject({ error: { code: 'request_too_large' } });
    const refused = await ask(client, { temperature: 7 }).then(
      () => undefined,
      (err: unknown) => err as InstanceType<typeof OpenAI.APIError>,
    );
    expect(refused?.requestID).toMatch(/^req_/);
    // The first test's request is metered by now; a refused one never reaches the stream.
    await sleep(500);
    expect((await completedRequests(world)).has(refused!.requestID!)).toBe(false);
  });
  it("forwards account and key routes for the key's own account only, behind their scopes", async () => {
    await world.rpc.call(OpenAccount, { accountId: 'acct-other', name: 'Other' });
    const otherKey = (await world.rpc.call(IssueApiKey, { accountId: 'acct-other', scopes: ['inference'] }))
      .key;
    const adminKey = (
      await world.rpc.call(IssueApiKey, {
        accountId,
        name: 'admin',
        scopes: ['account:read', 'account:admin'],
      })
    ).key;
    const call = (key: string, method: string, path: string) =>
      fetch(`${proxy.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${key}` } });

    const account = await call(adminKey, 'GET', '/v1/account');
    expect(account.status).toBe(200);
    expect(await account.json()).toMatchObject({ accountId });
    const keys = (await (await call(adminKey, 'GET', '/v1/keys')).json()) as { keys: { keyId: string }[] };
    expect(keys.keys.map((key) => key.keyId)).toContain(apiKey.split('_')[1]);
    expect(keys.keys.map((key) => key.keyId)).not.toContain(otherKey.split('_')[1]);

    // Another account's key cannot be revoked through this account: NOT_FOUND, and it keeps working.
    const foreign = await call(adminKey, 'DELETE', `/v1/keys/${otherKey.split('_')[1]}`);
    expect(foreign.status).toBe(404);
    expect(await call(otherKey, 'GET', '/v1/models').then((response) => response.status)).toBe(200);

    // An inference-only key may not read the account.
    const denied = await call(apiKey, 'GET', '/v1/account');
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({ error: { type: 'permission_error' } });

    const document = (await (await fetch(`${proxy.baseUrl}/openapi.json`)).json()) as {
      openapi: string;
      paths: object;
    };
    expect(document.openapi).toBe('3.1.0');
    expect(Object.keys(document.paths)).toContain('/v1/chat/completions');
  });
});

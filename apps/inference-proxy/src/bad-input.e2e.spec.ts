import {
  CreditAccount,
  GetAccount,
  IssueApiKey,
  ListApiKeys,
  OpenAccount,
  Streams,
} from '@tessera/contracts';
import { type ManagedProcess } from '@tessera/devservers';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  outside,
  startBillingProcess,
  startProxyProcess,
  type Outside,
  type ProxyProcess,
} from './__tests__/edge-processes.js';

interface Operation {
  method: string;
  path: string;
  properties: string[];
  parameters: { name: string; in: string }[];
}

/** Every operation of the served OpenAPI document, with the body fields it declares. */
function operationsOf(document: {
  paths: Record<
    string,
    Record<string, { parameters?: { name: string; in: string }[]; requestBody?: unknown }>
  >;
}): Operation[] {
  const found: Operation[] = [];
  for (const [path, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const body = operation.requestBody as
        { content: { 'application/json': { schema: { properties?: Record<string, unknown> } } } } | undefined;
      found.push({
        method: method.toUpperCase(),
        path,
        properties: Object.keys(body?.content['application/json'].schema.properties ?? {}),
        parameters: operation.parameters ?? [],
      });
    }
  }
  return found;
}

describe('inference proxy: bad input on every route of its OpenAPI document', () => {
  let env: TestEnvironment;
  let billing: ManagedProcess;
  let proxy: ProxyProcess;
  let world: Outside;
  let key: string;
  const accountId = 'acct-fuzz';

  beforeAll(async () => {
    env = await useTestEnvironment();
    world = await outside(env);
    billing = await startBillingProcess(env);
    await world.rpc.call(OpenAccount, { accountId, name: 'fuzz' });
    await world.rpc.call(CreditAccount, { accountId, idempotencyKey: 'seed', amount: '1000000000' });
    key = (
      await world.rpc.call(IssueApiKey, {
        accountId,
        scopes: ['inference', 'account:read', 'account:admin', 'deployments'],
      })
    ).key;
    // No miner and no scheduler: nothing a request could reach would change state elsewhere.
    proxy = await startProxyProcess(env);
  }, 240_000);

  afterAll(async () => {
    await proxy?.process.stop('SIGTERM', 10_000);
    await billing?.stop('SIGTERM', 10_000);
    await world?.close();
    await env?.cleanup();
  });

  it('answers generated bad input with a 4xx in OpenAI shape (503 only where the scheduler is needed), and changes nothing', async () => {
    const document = (await (await fetch(`${proxy.baseUrl}/openapi.json`)).json()) as Parameters<
      typeof operationsOf
    >[0];
    const operations = operationsOf(document);
    expect(operations.length).toBeGreaterThan(15);
    const before = {
      account: await world.rpc.call(GetAccount, { accountId }),
      keys: await world.rpc.call(ListApiKeys, { accountId }),
      inference: (
        await (await world.store.manager()).streams.info(world.store.namespace.streamName(Streams.INFERENCE))
      ).state.messages,
    };

    const weird = fc.oneof(
      fc.jsonValue(),
      fc.string(),
      fc.constant(null),
      fc.array(fc.oneof(fc.string(), fc.integer(), fc.double(), fc.boolean())),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...operations),
        fc.dictionary(fc.string({ maxLength: 8 }), weird, { maxKeys: 4 }),
        weird,
        fc.string({ maxLength: 20 }),
        fc.boolean(),
        async (operation, extra, fieldValue, pathValue, rawGarbage) => {
          // A body with the declared fields set to junk (the model, when named, is never one that exists).
          const body: Record<string, unknown> = { ...extra };
          for (const property of operation.properties) body[property] = fieldValue;
          if ('model' in body) body['model'] = 'no-such-model';
          const path = operation.path.replace(/\{[^}]+\}/g, encodeURIComponent(pathValue) || 'x');
          const query = operation.parameters
            .filter((parameter) => parameter.in === 'query')
            .map(
              (parameter) =>
                `${encodeURIComponent(parameter.name)}=${encodeURIComponent(String(fieldValue))}`,
            )
            .join('&');
          const response = await fetch(`${proxy.baseUrl}${path}${query ? `?${query}` : ''}`, {
            method: operation.method,
            headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
            ...(operation.method === 'GET' || operation.method === 'DELETE'
              ? {}
              : { body: rawGarbage ? `${JSON.stringify(body).slice(0, -1)}` : JSON.stringify(body) }),
          });
          const text = await response.text();
          const needsScheduler =
            operation.path.startsWith('/v1/deployments') && !operation.path.endsWith('/warmup');
          const allowed = response.status < 500 || (needsScheduler && response.status === 503);
          expect(allowed, `${operation.method} ${path} → ${response.status} ${text}`).toBe(true);
          if (response.status >= 400) {
            expect(JSON.parse(text), `${operation.method} ${path}`).toMatchObject({
              error: { message: expect.any(String), type: expect.any(String) },
            });
          }
        },
      ),
      { numRuns: 300 },
    );

    expect(await world.rpc.call(GetAccount, { accountId })).toEqual(before.account);
    expect(await world.rpc.call(ListApiKeys, { accountId })).toEqual(before.keys);
    const after = (
      await (await world.store.manager()).streams.info(world.store.namespace.streamName(Streams.INFERENCE))
    ).state.messages;
    expect(after).toBe(before.inference);
  });

  it('serves a readable docs page, self-contained, listing every route of the same document', async () => {
    const document = (await (await fetch(`${proxy.baseUrl}/openapi.json`)).json()) as Parameters<
      typeof operationsOf
    >[0] & { paths: Record<string, Record<string, { operationId: string }>> };
    const response = await fetch(`${proxy.baseUrl}/docs`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    const page = await response.text();
    const operations = operationsOf(document);
    expect(operations.length).toBeGreaterThan(15);
    for (const operation of operations) {
      const { operationId } = document.paths[operation.path]![operation.method.toLowerCase()]!;
      expect(page, operationId).toContain(`href="#${operationId}"`);
      expect(page, operationId).toContain(`${operation.method}</span> <code>${operation.path}</code>`);
      for (const parameter of operation.parameters) expect(page).toContain(`<code>${parameter.name}</code>`);
    }
    expect(page).not.toMatch(/<script|<link|src=/);
  });
});

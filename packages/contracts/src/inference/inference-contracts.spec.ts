import { describe, expect, it } from 'vitest';
import { isValidationError } from '../errors.js';
import { parseOrThrow } from '../validation.js';
import { chatCompletionRequestSchema, embeddingRequestSchema } from './openai-api.js';
import { ProbeCompleted } from './probe-completed.js';
import { createDeploymentBodySchema, publicRoutes } from './public-api.js';
import { rateUsageReportSchema } from './rate-usage.js';

describe('public API route table', () => {
  it('names each operation once and each method and path once', () => {
    const ids = publicRoutes.map((route) => route.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    const endpoints = publicRoutes.map((route) => `${route.method} ${route.path}`);
    expect(new Set(endpoints).size).toBe(endpoints.length);
  });

  it('declares a schema for every path parameter it uses', () => {
    for (const route of publicRoutes) {
      const names = [...route.path.matchAll(/\{([A-Za-z]+)\}/g)].map((match) => match[1]);
      expect(Object.keys(route.pathParams?.shape ?? {}).sort(), route.operationId).toEqual(names.sort());
    }
  });

  it('never lets a body name the account: the key decides whose data it is', () => {
    for (const route of publicRoutes) {
      const shape = route.body && 'shape' in route.body ? (route.body.shape as Record<string, unknown>) : {};
      expect(Object.keys(shape), route.operationId).not.toContain('accountId');
      expect(Object.keys(shape), route.operationId).not.toContain('ownerAccountId');
      expect(Object.keys(route.query?.shape ?? {}), route.operationId).not.toContain('accountId');
    }
  });
});

describe('OpenAI request schemas', () => {
  it('pass fields they do not know through to the engine', () => {
    const parsed = chatCompletionRequestSchema.parse({
      model: 'm',
      messages: [{ role: 'user', content: 'hi', cache_control: { type: 'ephemeral' } }],
      response_format: { type: 'json_object' },
    });
    expect(parsed['response_format']).toEqual({ type: 'json_object' });
    expect(parsed.messages[0]?.['cache_control']).toEqual({ type: 'ephemeral' });
  });

  it('refuse a bad field by its path', () => {
    const bad = () =>
      parseOrThrow(chatCompletionRequestSchema, { model: 'm', messages: [{ role: 'robot' }] }, 'request');
    expect(bad).toThrow();
    try {
      bad();
    } catch (err) {
      expect(isValidationError(err) && err.issues[0]?.path).toBe('messages.0.role');
    }
    expect(embeddingRequestSchema.safeParse({ model: 'm', input: [] }).success).toBe(false);
  });

  it('check a deployment body like the scheduler does, without an owner', () => {
    const result = createDeploymentBodySchema.safeParse({
      name: 'tiny',
      model: { uri: 'file:///m.gguf', revision: '1', sha256: 'a'.repeat(64) },
      engine: { name: 'llama' },
      gpu: { count: 1 },
      concurrency: 2,
      minReplicas: 3,
      maxReplicas: 1,
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path.join('.'))).toContain('minReplicas');
  });
});

describe('inference events and messages', () => {
  it('bound a probe quality to [0, 1]', () => {
    const base = {
      probeId: '0190a6b0-0000-7000-8000-000000000001',
      instanceId: 'inst-1',
      deploymentId: 'dep-1',
      minerHotkey: '5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY',
      model: 'tiny',
      source: 'proxy-1',
      ok: true,
      ttftMs: 3,
      tokensPerSecond: 100,
      completionTokens: 8,
      rankMisses: 0,
      reference: 'gguf',
      consistent: null,
      failure: null,
      reason: null,
      at: '2026-01-01T00:00:00.000Z',
    } as const;
    expect(() => ProbeCompleted.create({ ...base, quality: 1 })).not.toThrow();
    expect(() => ProbeCompleted.create({ ...base, quality: 1.5 })).toThrow();
  });

  it('read a rate usage report and refuse a malformed one', () => {
    expect(
      rateUsageReportSchema.safeParse({
        source: 'p1',
        sentAt: 1,
        keys: [{ keyId: 'a'.repeat(16), requests: 1, tokens: 2 }],
      }).success,
    ).toBe(true);
    expect(rateUsageReportSchema.safeParse({ source: 'p 1', sentAt: 1, keys: [] }).success).toBe(false);
  });
});

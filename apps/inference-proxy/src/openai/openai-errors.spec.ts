import { BillingErrorCode, TesseraError, ValidationError } from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import { openAiParam, proxyErrors, toOpenAiError } from './openai-errors.js';

describe('toOpenAiError', () => {
  it.each([
    [proxyErrors.invalidApiKey(), 401, 'invalid_api_key'],
    [proxyErrors.missingScope('inference'), 403, 'permission_denied'],
    [proxyErrors.insufficientFunds(), 402, 'insufficient_quota'],
    [proxyErrors.rateLimited('requests', 12), 429, 'rate_limit_exceeded'],
    [proxyErrors.modelNotFound('x'), 404, 'model_not_found'],
    [proxyErrors.noCapacity(30), 503, 'no_capacity'],
    [proxyErrors.bodyTooLarge(), 413, 'request_too_large'],
    [proxyErrors.accountBlocked('suspended'), 403, 'permission_denied'],
  ])('maps %s', (err, status, code) => {
    const mapped = toOpenAiError(err);
    expect(mapped.status).toBe(status);
    expect(mapped.body.error.code).toBe(code);
  });

  it('names the field of a validation failure in OpenAI notation', () => {
    const mapped = toOpenAiError(
      new ValidationError('request body', [{ path: 'messages.0.content', message: 'bad' }]),
    );
    expect(mapped).toMatchObject({
      status: 400,
      body: { error: { type: 'invalid_request_error', param: 'messages[0].content' } },
    });
    expect(openAiParam('')).toBeNull();
  });

  it('sends retry-after with 429 and 503, and hides unknown failures', () => {
    expect(toOpenAiError(proxyErrors.rateLimited('tokens', 2.2)).headers).toEqual({ 'retry-after': '3' });
    expect(toOpenAiError(proxyErrors.noCapacity(30)).headers).toEqual({ 'retry-after': '30' });
    const hidden = toOpenAiError(new Error('database password is hunter2'));
    expect(hidden.status).toBe(500);
    expect(JSON.stringify(hidden.body)).not.toContain('hunter2');
    expect(toOpenAiError(new TesseraError(BillingErrorCode.KeyRevoked, 'revoked')).status).toBe(401);
  });
});

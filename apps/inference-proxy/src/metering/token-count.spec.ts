import { describe, expect, it } from 'vitest';
import { countPromptTokens, meteredTokens, promptTokenBound } from './token-count.js';

describe('token counting', () => {
  it("takes the engine's count unless it claims more than ten times the proxy's own", () => {
    expect(meteredTokens(40, 10)).toBe(40);
    expect(meteredTokens(100, 10)).toBe(100);
    expect(meteredTokens(101, 10)).toBe(10);
    expect(meteredTokens(undefined, 7)).toBe(7);
    expect(meteredTokens(50, 0)).toBe(0);
  });

  it('bounds a prompt above any tokenizer: UTF-8 bytes plus template tokens', () => {
    const request = { messages: [{ role: 'user' as const, content: 'héllo wörld, a longer sentence' }] };
    expect(promptTokenBound(request)).toBeGreaterThanOrEqual(
      Buffer.byteLength('héllo wörld, a longer sentence'),
    );
    expect(promptTokenBound(request)).toBeGreaterThan(countPromptTokens(request));
    expect(promptTokenBound({ prompt: [[1, 2, 3]] })).toBeGreaterThanOrEqual(3);
    expect(countPromptTokens({ input: ['hello', 'world'] })).toBe(2);
  });
});

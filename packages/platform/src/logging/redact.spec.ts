import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';
import { MAX_LOGGED_STRING_LENGTH, capString, redactSecrets } from './redact.js';

function capture(): { lines: string[]; destination: Writable } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(
        ...chunk
          .toString('utf8')
          .split('\n')
          .filter((line) => line !== ''),
      );
      done();
    },
  });
  return { lines, destination };
}

describe('log value size caps', () => {
  it('cuts a long string to the cap and says how long it was', () => {
    const long = '9'.repeat(900_000);
    const capped = capString(long);
    expect(capped.length).toBeLessThan(MAX_LOGGED_STRING_LENGTH + 40);
    expect(capped).toMatch(/\[900000 characters\]$/);
    expect(capString('short')).toBe('short');
  });

  it('keeps a line small whatever reached the logger: a 900,000-digit value in an error and in a field', () => {
    const { lines, destination } = capture();
    const logger = createLogger({ service: 'test', destination, format: 'json' });
    const cursor = '9'.repeat(900_000);
    logger.warn(
      {
        err: new Error(`invalid input syntax for type bigint: "${cursor}"`),
        request: { after: cursor },
        ids: Array.from({ length: 10_000 }, (_, i) => i),
      },
      'request failed',
    );
    expect(lines).toHaveLength(1);
    const line = lines[0] ?? '';
    expect(line.length).toBeLessThan(10_000);
    const parsed = JSON.parse(line) as {
      err: { message: string };
      request: { after: string };
      ids: unknown[];
    };
    expect(parsed.err.message).toMatch(/characters\]$/);
    expect(parsed.request.after).toMatch(/\[900000 characters\]$/);
    expect(parsed.ids.at(-1)).toBe('[9900 more items]');
  });

  it('still redacts secrets, at any depth', () => {
    expect(redactSecrets({ nested: { apiKey: 'x'.repeat(5_000) } })).toEqual({
      nested: { apiKey: '[Redacted]' },
    });
  });
});

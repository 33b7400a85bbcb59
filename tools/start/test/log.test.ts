import { describe, expect, it } from 'vitest';
import { lineFormatter } from '../src/log.js';

const jsonLine = JSON.stringify({
  level: 'warn',
  time: '2026-01-01T10:00:00.000Z',
  service: 'billing',
  msg: 'nats disconnected; reconnecting',
  server: '127.0.0.1:4222',
});

describe('lineFormatter', () => {
  it('shows an app’s JSON log line as readable text on a terminal', () => {
    const shown = lineFormatter(true)(jsonLine);
    expect(shown).toMatch(/WARN.*nats disconnected; reconnecting/);
    expect(shown).toContain('server: "127.0.0.1:4222"');
    expect(shown).not.toContain('{"level"');
  });

  it('passes other lines, and everything when the output is not a terminal, unchanged', () => {
    expect(lineFormatter(true)('listening on 3001')).toBe('listening on 3001');
    expect(lineFormatter(false)(jsonLine)).toBe(jsonLine);
  });
});

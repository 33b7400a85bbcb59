import { execFile } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { trace } from '@opentelemetry/api';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { TesseraError } from '@tessera/contracts';
import { describe, expect, it } from 'vitest';
import { runWithCorrelationId } from './correlation.js';
import { createLogger, defaultLogFormat } from './logger.js';
import { NestPinoLogger } from './nest-logger.js';

/** A destination that keeps every line, parsed. */
function captureLines(): { stream: Writable; lines: () => Record<string, unknown>[]; raw: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return {
    stream,
    raw: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('logger', () => {
  it('never writes a secret, whatever the key looks like or how deep it sits', () => {
    const out = captureLines();
    const logger = createLogger({ service: 'billing', destination: out.stream });
    const secret = 'hunter2-super-secret-value';
    logger.info(
      {
        password: secret,
        config: { NATS_SEED: secret, apiKey: secret, nested: [{ Authorization: `Bearer ${secret}` }] },
        mnemonic: secret,
        clientSecret: secret,
        accessToken: secret,
        harmless: 'visible',
      },
      'starting',
    );
    logger.child({ token: secret }).warn('child bindings too');
    logger.error(
      { err: new TesseraError('UNAUTHORIZED', 'bad key', { details: { api_key: secret } }) },
      'rejected',
    );

    expect(out.raw()).not.toContain(secret);
    const [first] = out.lines();
    expect(first).toMatchObject({
      service: 'billing',
      level: 'info',
      msg: 'starting',
      harmless: 'visible',
      password: '[Redacted]',
    });
    expect(out.lines()).toHaveLength(3);
  });

  it('stamps the correlation id and the active span on every line', () => {
    const out = captureLines();
    const logger = createLogger({ service: 'scorer', destination: out.stream });
    const tracer = new TracerProvider().getTracer('test');
    const span = tracer.startSpan('work');
    // No context manager is registered here, so set the span explicitly through the API.
    const spanContext = span.spanContext();
    const originalGetActiveSpan = trace.getActiveSpan;
    trace.getActiveSpan = () => span;
    try {
      runWithCorrelationId('corr-123', () => logger.info('hello'));
    } finally {
      trace.getActiveSpan = originalGetActiveSpan;
      span.end();
    }
    expect(out.lines()[0]).toMatchObject({
      service: 'scorer',
      correlationId: 'corr-123',
      traceId: spanContext.traceId,
      spanId: spanContext.spanId,
    });
  });

  it('adapts Nest logging with its context', () => {
    const out = captureLines();
    const nest = new NestPinoLogger(createLogger({ service: 'billing', destination: out.stream }));
    nest.log('Mapped {/health/live, GET} route', 'RouterExplorer');
    nest.error('boom', 'Error: boom\n    at x', 'ExceptionsHandler');
    expect(out.lines()).toEqual([
      expect.objectContaining({
        level: 'info',
        context: 'RouterExplorer',
        msg: 'Mapped {/health/live, GET} route',
      }),
      expect.objectContaining({
        level: 'error',
        context: 'ExceptionsHandler',
        msg: 'boom',
        stack: 'Error: boom\n    at x',
      }),
    ]);
  });

  it('writes readable lines when asked (a terminal), still redacted; JSON to any other destination', () => {
    const out = captureLines();
    const logger = createLogger({ service: 'billing', destination: out.stream, format: 'pretty' });
    const secret = 'SUAJ6NKEYSEEDNEVERPRINTED';
    logger.info({ accountId: 'acc_1', NATS_NKEY_SEED: secret }, 'account opened');
    const text = out.raw();
    expect(text).toMatch(/INFO.*account opened/);
    expect(text).toContain('accountId: "acc_1"');
    expect(text).not.toContain(secret);
    expect(() => JSON.parse(text.split('\n')[0] ?? '')).toThrow();
    // A stream given by the caller is a collector, never a terminal.
    expect(defaultLogFormat(out.stream)).toBe('json');
  });

  it.each([
    ['a terminal', true],
    ['a pipe', false],
  ])('picks the format from what stdout is: %s', async (_label, terminal) => {
    // A child process whose stdout is a real pseudo-terminal (util-linux `script`) or a pipe.
    const program = `import { createLogger } from ${JSON.stringify(loggerModule)}; createLogger({ service: 'billing' }).info({ accountId: 'acc_1' }, 'account opened');`;
    const node = [process.execPath, '--input-type=module', '-e', program];
    const command = terminal ? ['script', '-qec', node.map(shellQuote).join(' '), '/dev/null'] : node;
    const output = await run(command);
    if (terminal) {
      expect(output).toMatch(/INFO.*account opened/);
      expect(output).not.toContain('"msg"');
    } else {
      expect(JSON.parse(output.trim())).toMatchObject({
        level: 'info',
        msg: 'account opened',
        accountId: 'acc_1',
      });
    }
  });
});

// The compiled module: `test` runs after `build`, and a plain `node` child loads it as is.
const loggerModule = fileURLToPath(new URL('../../dist/logging/logger.js', import.meta.url));

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

function run(command: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const [file, ...args] = command;
    execFile(file ?? '', args, { env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) =>
      err ? reject(new Error(`${String(err)}\n${stderr}`)) : resolve(stdout),
    );
  });
}

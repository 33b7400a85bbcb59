import { type INestApplication } from '@nestjs/common';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBilling } from '../__tests__/billing-app.fixture.js';
import { runCli } from './cli.js';

let env: TestEnvironment;
let app: INestApplication;

beforeAll(async () => {
  env = await useTestEnvironment();
  app = await startBilling(env);
});
afterAll(async () => {
  await app?.close();
  await env?.cleanup();
});

/** Runs the CLI as an operator would, against this file's billing service. */
async function cli(...argv: string[]): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const code = await runCli(argv, { NATS_URL: env.natsUrl, NATS_SUBJECT_PREFIX: env.namespace }, (line) =>
    lines.push(line),
  );
  return { code, output: lines.join('\n') };
}

describe('tessera-billing operator CLI', () => {
  it('opens an account and prints its first API key once', async () => {
    const { code, output } = await cli('open-account', '--account', 'cli-acme', '--name', 'Acme');
    expect(code).toBe(0);
    const printed = JSON.parse(output) as { accountId: string; depositAddress: string; apiKey: string };
    expect(printed.accountId).toBe('cli-acme');
    expect(printed.apiKey).toMatch(/^tsk_/);
    expect(printed.depositAddress).toMatch(/^5/);
  });

  it('credits the account and shows the balance', async () => {
    expect(
      (await cli('credit', '--account', 'cli-acme', '--amount', '5000000000', '--key', 'welcome')).code,
    ).toBe(0);
    const { code, output } = await cli('show-account', '--account', 'cli-acme');
    expect(code).toBe(0);
    expect(output).toContain('"5000000000"');
  });

  it('sets prices and reads the price book back', async () => {
    expect((await cli('set-tao-price', '--nano-usd-per-tao', '400000000000')).code).toBe(0);
    expect(
      (await cli('set-model-price', '--model', 'llama-3-8b', '--input', '200000000', '--output', '600000000'))
        .code,
    ).toBe(0);
    const { code, output } = await cli('prices');
    expect(code).toBe(0);
    expect(output).toContain('400000000000');
    expect(output).toContain('llama-3-8b');
  });

  it('refuses a fractional amount with the typed error and exit code 1, posting nothing', async () => {
    const { code, output } = await cli('credit', '--account', 'cli-acme', '--amount', '1.5', '--key', 'bad');
    expect(code).toBe(1);
    expect(output).toMatch(/^error VALIDATION_FAILED/);
    const after = await cli('show-account', '--account', 'cli-acme');
    expect(after.output).toContain('"5000000000"');
  });

  it('prints the usage with exit code 2 for an unknown command or a missing option', async () => {
    expect((await cli('launch-rockets')).code).toBe(2);
    const missing = await cli('credit', '--account', 'cli-acme');
    expect(missing.code).toBe(2);
    expect(missing.output).toContain('--amount is required');
  });
});

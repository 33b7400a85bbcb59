import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTesseraError, ErrorCode } from '@tessera/contracts';
import { createNatsUserKey } from '@tessera/devservers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCliEnv } from './cli-env.js';
import { NATS_KEYS_FOLDER, NATS_URL_FILE, resolveConnectionSettings } from './connection-settings.js';

describe('resolveConnectionSettings', () => {
  let dataDir: string;
  const noFlags = { natsUrl: undefined, seedFile: undefined };
  const operatorSeed = createNatsUserKey().seed;
  const otherSeed = createNatsUserKey().seed;

  /** What `npm start` leaves: the URL and the operator's seed under `<data>/nats-keys`. */
  function writeNpmStartFiles(url: string): void {
    mkdirSync(join(dataDir, NATS_KEYS_FOLDER), { recursive: true });
    writeFileSync(join(dataDir, NATS_KEYS_FOLDER, NATS_URL_FILE), url);
    writeFileSync(join(dataDir, NATS_KEYS_FOLDER, 'operator.nk'), `${operatorSeed}\n`);
  }

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'tessera-cli-settings-'));
  });
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it('finds the URL and the operator seed npm start wrote', () => {
    writeNpmStartFiles('nats://127.0.0.1:14222');
    const settings = resolveConnectionSettings(noFlags, parseCliEnv({}), dataDir, dataDir);
    expect(settings.natsUrl).toBe('nats://127.0.0.1:14222');
    expect(settings.seed).toBe(operatorSeed);
    expect(settings.natsUrlSource).toContain('written by npm start');
    expect(settings.seedSource).toContain(join(NATS_KEYS_FOLDER, 'operator.nk'));
  });

  it('prefers the variables to the files, and the flags to both', () => {
    writeNpmStartFiles('nats://127.0.0.1:14222');
    const env = parseCliEnv({ NATS_URL: 'nats://10.0.0.1:4222', NATS_NKEY_SEED: otherSeed });
    const fromEnv = resolveConnectionSettings(noFlags, env, dataDir, dataDir);
    expect([fromEnv.natsUrl, fromEnv.seed, fromEnv.seedSource]).toEqual([
      'nats://10.0.0.1:4222',
      otherSeed,
      'NATS_NKEY_SEED',
    ]);

    const seedFile = join(dataDir, 'ops.nk');
    writeFileSync(seedFile, operatorSeed);
    const fromFlags = resolveConnectionSettings(
      { natsUrl: 'nats://10.0.0.2:4222', seedFile: 'ops.nk' },
      env,
      dataDir,
      dataDir,
    );
    expect([fromFlags.natsUrl, fromFlags.seed, fromFlags.natsUrlSource]).toEqual([
      'nats://10.0.0.2:4222',
      operatorSeed,
      '--nats-url',
    ]);
  });

  it('without anything, connects to the default local NATS without credentials', () => {
    const settings = resolveConnectionSettings(noFlags, parseCliEnv({}), dataDir, dataDir);
    expect(settings.natsUrl).toBe('nats://127.0.0.1:4222');
    expect(settings.seed).toBeUndefined();
  });

  it('refuses a seed file that holds no seed, naming the file and never its content', () => {
    const seedFile = join(dataDir, 'wrong.nk');
    const content = 'SOMETHING-SECRET-BUT-NOT-A-SEED';
    writeFileSync(seedFile, content);
    let caught: unknown;
    try {
      resolveConnectionSettings({ natsUrl: undefined, seedFile }, parseCliEnv({}), dataDir, dataDir);
    } catch (err) {
      caught = err;
    }
    expect(isTesseraError(caught, ErrorCode.ValidationFailed)).toBe(true);
    expect(String((caught as Error).message)).toContain(seedFile);
    expect(JSON.stringify(caught) + String((caught as Error).message)).not.toContain(content);
  });

  it('refuses a missing seed file and a URL that is not one', () => {
    const missing = join(dataDir, 'missing.nk');
    expect(() =>
      resolveConnectionSettings({ natsUrl: undefined, seedFile: missing }, parseCliEnv({}), dataDir, dataDir),
    ).toThrow(/no such file/);
    expect(() =>
      resolveConnectionSettings(
        { natsUrl: 'nats://n1:4222,n2 4222', seedFile: undefined },
        parseCliEnv({}),
        dataDir,
        dataDir,
      ),
    ).toThrow(/--nats-url: not a NATS URL/);
  });
});

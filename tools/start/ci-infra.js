#!/usr/bin/env node
// For .ci/run: starts a throwaway NATS and Postgres, writes `NATS_URL=…` and `DATABASE_URL=…`
// to the file named by the first argument, and stops both on SIGTERM / SIGINT.
import { chmodSync, mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MissingPrerequisiteError, startInfrastructure } from './src/infra.js';

const envFile = process.argv[2];
if (!envFile) {
  console.error('usage: node tools/start/ci-infra.js <env-file>');
  process.exit(2);
}
/** @param {string} message */
const log = (message) => console.log(`[ci-infra] ${message}`);

const dataDir = process.env['TESSERA_DATA_DIR'] || mkdtempSync(join(tmpdir(), 'tessera-ci-'));
// Postgres runs as the postgres user when we are root: it must traverse to its data directory.
mkdirSync(dataDir, { recursive: true });
chmodSync(dataDir, 0o755);

let infra;
try {
  infra = await startInfrastructure({
    dataDir,
    natsUrl: undefined,
    databaseUrl: undefined,
    natsPort: { port: 0, explicit: true },
    postgresPort: { port: 0, explicit: true },
    persistent: false,
    fastUnsafe: true,
    // One server for every test file: their namespaces cannot be wildcarded in permissions.
    natsAuthorization: false,
    log,
  });
} catch (error) {
  console.error(`[ci-infra] ${error instanceof MissingPrerequisiteError ? error.message : String(error)}`);
  process.exit(1);
}

// Written whole, then renamed: the waiting shell never reads half a file.
writeFileSync(`${envFile}.tmp`, `NATS_URL=${infra.natsUrl}\nDATABASE_URL=${infra.databaseUrl}\n`);
renameSync(`${envFile}.tmp`, envFile);
log('ready');

const stopped = await new Promise((resolve) => {
  process.once('SIGTERM', () => resolve('SIGTERM'));
  process.once('SIGINT', () => resolve('SIGINT'));
});
log(`${String(stopped)}: stopping Postgres and NATS`);
await infra.stop();
process.exit(0);

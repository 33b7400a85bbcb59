#!/usr/bin/env node
// `tessera`, the operator CLI. This file is committed as plain JavaScript, not built: npm links a
// workspace's bin when it installs, before anything is built, and skips a bin whose file does
// not exist yet (which is why `npx tessera-billing`, a bin in dist/, answered 404 on a fresh
// clone). It loads the built CLI, and says what to run when that is not there.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/main.js', import.meta.url);
const root = fileURLToPath(new URL('../../..', import.meta.url));

/** @param {string} what */
function notBuilt(what) {
  process.stderr.write(
    `tessera: ${what} is not built yet. Run \`npm start\` (it builds everything) or \`npm run build\` in ${root}, then try again.\n`,
  );
  process.exit(2);
}

if (!existsSync(built)) notBuilt('the CLI (tools/cli/dist)');
try {
  await import(built.href);
} catch (error) {
  // A workspace package the CLI imports (its dist/) or a dependency is missing.
  if (error instanceof Error && 'code' in error && error.code === 'ERR_MODULE_NOT_FOUND') {
    notBuilt(`a package it needs (${error.message.split('\n')[0]})`);
  }
  throw error;
}

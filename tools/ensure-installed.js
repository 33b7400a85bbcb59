// Runs before `npm start` and `npm test` (npm's pre-scripts): on a fresh clone the npm
// dependencies are not there yet, so install them exactly as locked. Plain Node, no imports
// from node_modules: it must work before anything is installed.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// npm writes this file at the end of every successful install.
if (!existsSync(`${root}node_modules/.package-lock.json`)) {
  console.log('[tessera] npm dependencies missing: running npm ci');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  process.exit(result.status ?? 1);
}

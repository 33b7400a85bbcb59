import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runTessera } from './program.js';

// `tessera`'s process entry (loaded by bin/tessera.js): the one place the CLI reads its process
// environment and arguments. This file lives in tools/cli/dist/, three levels below the root.
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

// `tessera ledger … | head` closes the pipe early: that ends the output, it is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await runTessera({
  argv: process.argv.slice(2),
  env: process.env,
  repoRoot,
  cwd: process.cwd(),
  output: {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
  },
});

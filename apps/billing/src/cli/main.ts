#!/usr/bin/env node
import { runCli } from './cli.js';

// The one place the CLI reads its environment: it is a separate program from the service.
process.exitCode = await runCli(process.argv.slice(2), process.env, (line) =>
  process.stdout.write(`${line}\n`),
);

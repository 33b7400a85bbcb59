#!/usr/bin/env node
// `tessera-tiny-model <path> [--seed N] [--name NAME]`: writes the tiny GGUF model and prints its sha256.
import { parseArgs } from 'node:util';
import { writeTinyModel } from './tiny-model.js';

const usage = 'usage: tessera-tiny-model <path> [--seed <uint32>] [--name <general.name>]';
try {
  const { values, positionals } = parseArgs({
    options: { seed: { type: 'string', default: '0' }, name: { type: 'string' }, help: { type: 'boolean' } },
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(`${usage}\n`);
  } else {
    const [path] = positionals;
    if (path === undefined || positionals.length > 1) throw new Error(usage);
    if (!/^[0-9]+$/.test(values.seed))
      throw new Error(`--seed must be an unsigned integer, got ${values.seed}`);
    const sha256 = await writeTinyModel(path, {
      seed: Number(values.seed),
      ...(values.name === undefined ? {} : { name: values.name }),
    });
    process.stdout.write(`${sha256}  ${path}\n`);
  }
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}

#!/usr/bin/env node
// `tessera-miner`: the miner's chain commands. Keys come from the environment (see .env.example).
import { parseArgs } from 'node:util';
import { loadKeypair } from '@tessera/bittensor';
import { parseEnv } from '@tessera/platform/config';
import { parseAxonIp } from '../chain/axon-address.js';
import { connectChain, registerMiner, serveAxon } from '../chain/miner-chain.js';
import { minerCliEnvSchema } from '../config.js';
import { loadMinerHotkey } from '../identity/miner-hotkey.js';

const USAGE = `usage:
  tessera-miner register --netuid <n> [--chain <ws url>]
      burned registration of the hotkey (MINER_HOTKEY_SEED | MINER_HOTKEY_FILE), paid by the
      coldkey (MINER_COLDKEY_SEED | MINER_COLDKEY_FILE); a registered hotkey is left as it is
  tessera-miner serve-axon --netuid <n> --ip <address> --port <port> [--protocol 4] [--version 1] [--chain <ws url>]
      announces where the miner-agent listens (MINER_PORT), signed by the hotkey
  --chain defaults to CHAIN_ENDPOINT`;

/** A mistake in how the command was called: print the usage, exit 2. */
class UsageError extends Error {}

function integer(name: string, value: string | undefined, min: number, max: number): number {
  if (value === undefined) throw new UsageError(`--${name} is required`);
  if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return Number(value);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      netuid: { type: 'string' },
      chain: { type: 'string' },
      ip: { type: 'string' },
      port: { type: 'string' },
      protocol: { type: 'string', default: '4' },
      version: { type: 'string', default: '1' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (command !== 'register' && command !== 'serve-axon') throw new UsageError(`unknown command ${command}`);
  const env = parseEnv(minerCliEnvSchema, process.env);
  const endpoint = values.chain ?? env.CHAIN_ENDPOINT;
  if (endpoint === undefined) throw new UsageError('--chain or CHAIN_ENDPOINT is required');
  const netuid = integer('netuid', values.netuid, 0, 65_535);
  const { pair: hotkey, isDevelopmentKey } = await loadMinerHotkey(env);
  if (isDevelopmentKey) {
    process.stderr.write(
      `warning: MINER_HOTKEY_SEED and MINER_HOTKEY_FILE are unset: using the public development hotkey ${hotkey.address}\n`,
    );
  }

  if (command === 'register') {
    const coldkey = await loadKeypair(
      { seed: env.MINER_COLDKEY_SEED, keyFile: env.MINER_COLDKEY_FILE },
      env.SS58_FORMAT,
    );
    if (!coldkey)
      throw new UsageError('register needs the coldkey: MINER_COLDKEY_SEED or MINER_COLDKEY_FILE');
    const api = await connectChain(endpoint);
    try {
      const registration = await registerMiner({ api, coldkey, hotkey: hotkey.address, netuid });
      process.stdout.write(
        `${registration.registeredNow ? 'registered' : 'already registered'} ${hotkey.address} on netuid ${netuid} as uid ${registration.uid}\n`,
      );
    } finally {
      await api.disconnect();
    }
    return;
  }

  if (values.ip === undefined) throw new UsageError('--ip is required');
  let address;
  try {
    address = parseAxonIp(values.ip);
  } catch (err) {
    throw new UsageError(`--ip: ${err instanceof Error ? err.message : String(err)}`);
  }
  const port = integer('port', values.port, 1, 65_535);
  const api = await connectChain(endpoint);
  try {
    const axon = await serveAxon({
      api,
      hotkey,
      netuid,
      address,
      port,
      protocol: integer('protocol', values.protocol, 0, 255),
      version: integer('version', values.version, 0, 0xffffffff),
    });
    process.stdout.write(`axon of ${hotkey.address} on netuid ${netuid}: ${values.ip} port ${axon.port}\n`);
  } finally {
    await api.disconnect();
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    const usage = err instanceof UsageError || (err instanceof TypeError && 'code' in err);
    process.stderr.write(
      `${err instanceof Error ? err.message : String(err)}\n${usage ? `\n${USAGE}\n` : ''}`,
    );
    process.exit(usage ? 2 : 1);
  },
);

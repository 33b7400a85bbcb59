// The local platform `npm start` runs when no CHAIN_ENDPOINT is given: a local subtensor chain
// (chopsticks, from the raonet spec shipped in @tessera/devservers) with a demo subnet and one
// demo miner registered on it with its axon served, the settings that tie the chain indexer,
// scheduler, miner-agent and inference proxy to it, and — once the apps are up — a demo account
// with credit and a demo deployment of the tiny model, so that a newcomer's first request has a
// ready instance to go to.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** The names below are dev URIs (`//TesseraDemoMiner`): public, for a local chain only. */
const DEMO = {
  subnetOwner: 'TesseraDemoSubnetOwner',
  validator: 'TesseraDemoValidator',
  minerHotkey: 'TesseraDemoMiner',
  minerColdkey: 'TesseraDemoMinerCold',
  /** The runtime refuses loopback axons: the miner announces a documentation address, mapped to its local port. */
  announcedIp: '203.0.113.10',
  announcedPort: 8091,
  accountId: 'demo',
  deploymentId: 'tiny-chat',
  /** $5.00 of credit for the demo account. */
  creditNanoUsd: '5000000000',
};

/**
 * Apps that make up the local platform; it is set up only when all of them are built.
 * @type {readonly string[]}
 */
export const LOCAL_PLATFORM_APPS = ['chain-indexer', 'scheduler', 'miner-agent'];

/**
 * @typedef {object} LocalPlatform
 * @property {string} chainEndpoint
 * @property {number} netuid
 * @property {(app: string) => NodeJS.ProcessEnv} envFor  settings for one app, on top of the shared ones
 * @property {(call: OperatorCall) => Promise<DemoSummary>} seed  the demo account, prices and deployment
 * @property {() => Promise<void>} stop
 */

/**
 * @typedef {(contract: unknown, request: unknown) => Promise<unknown>} OperatorCall
 * @typedef {{ accountId: string, deploymentId: string, model: string }} DemoSummary
 */

/**
 * Starts the local chain and registers the demo subnet and miner.
 * @param {{ dataDir: string, minerPort: number, appsDir: string, log: (message: string) => void }} options
 * @returns {Promise<LocalPlatform>}
 */
export async function startLocalPlatform({ dataDir, minerPort, appsDir, log }) {
  // Imported here: only the local platform needs the chain harness and the tiny model.
  const [{ startChain }, { writeTinyModel }] = await Promise.all([
    import('@tessera/testkit'),
    import('@tessera/tiny-model'),
  ]);
  const demoDir = join(dataDir, 'local-platform');
  mkdirSync(demoDir, { recursive: true });

  log('starting the local subtensor chain (chopsticks, raonet spec; ~20 s)');
  const chain = await startChain({});
  try {
    const owner = chain.account(DEMO.subnetOwner);
    await chain.fund(owner.address, 10n ** 15n);
    const netuid = await chain.registerSubnet(owner, chain.account(`${DEMO.subnetOwner}/hot`));
    const miner = chain.account(DEMO.minerHotkey);
    const coldkey = chain.account(DEMO.minerColdkey);
    await chain.fund(coldkey.address, 10n ** 13n);
    await chain.registerNeuron(netuid, coldkey, miner);
    // The miner announces its axon with its own CLI, as a miner would.
    await promisify(execFile)(
      process.execPath,
      [
        join(appsDir, 'miner-agent', 'dist', 'cli', 'main.js'),
        'serve-axon',
        '--netuid',
        String(netuid),
        '--ip',
        DEMO.announcedIp,
        '--port',
        String(DEMO.announcedPort),
      ],
      {
        env: {
          PATH: process.env['PATH'] ?? '',
          CHAIN_ENDPOINT: chain.endpoint,
          MINER_HOTKEY_SEED: `//${DEMO.minerHotkey}`,
        },
      },
    );
    log(`local chain ${chain.endpoint}: subnet ${netuid}, demo miner ${miner.address} with its axon served`);

    const modelPath = join(demoDir, 'tiny.gguf');
    const modelSha256 = await writeTinyModel(modelPath, { seed: 7 });
    const instanceTokenSecret = localSecret(join(demoDir, 'instance-token-secret'));
    const validator = chain.account(DEMO.validator);

    /** @type {Record<string, NodeJS.ProcessEnv>} */
    const perApp = {
      'chain-indexer': { CHAIN_ENDPOINT: chain.endpoint, NETUIDS: String(netuid), START_BLOCK: '1' },
      scheduler: {
        NETUID: String(netuid),
        VALIDATOR_SEED: `//${DEMO.validator}`,
        INSTANCE_TOKEN_SECRET: instanceTokenSecret,
        AXON_ADDRESS_MAP: `${DEMO.announcedIp}:${DEMO.announcedPort}=127.0.0.1:${minerPort}`,
        // One miner, one instance: scale down after a minute without demand, not at once.
        MIN_INSTANCE_AGE_MS: '60000',
      },
      'miner-agent': {
        CHAIN_ENDPOINT: chain.endpoint,
        MINER_HOTKEY_SEED: `//${DEMO.minerHotkey}`,
        ALLOWED_VALIDATOR_HOTKEYS: validator.address,
        MINER_HOST: '127.0.0.1',
        MINER_PORT: String(minerPort),
        GPUS: '1xcpu:0',
        MODEL_CACHE_DIR: join(demoDir, 'model-cache'),
      },
      'inference-proxy': { INSTANCE_TOKEN_SECRET: instanceTokenSecret },
    };

    return {
      chainEndpoint: chain.endpoint,
      netuid,
      envFor: (app) => perApp[app] ?? {},
      seed: (call) => seedDemo(call, { uri: `file://${modelPath}`, sha256: modelSha256 }),
      stop: () => chain.stop(),
    };
  } catch (error) {
    await chain.stop().catch(() => undefined);
    throw error;
  }
}

/**
 * Seeds the demo once billing and the scheduler answer, as the `operator` identity; resolves
 * to undefined when npm start is stopped first.
 * @param {LocalPlatform} local
 * @param {{ natsUrl: string, operatorSeed: string | undefined, stopped: () => boolean }} options
 * @returns {Promise<DemoSummary | undefined>}
 */
export async function seedLocalPlatform(local, { natsUrl, operatorSeed, stopped }) {
  const [{ connect }, messaging, { isTesseraError, ErrorCode }] = await Promise.all([
    import('@nats-io/transport-node'),
    import('@tessera/platform/messaging'),
    import('@tessera/contracts'),
  ]);
  const nc = await connect(
    messaging.natsConnectionOptions({
      NATS_URL: natsUrl,
      NATS_NKEY_SEED: operatorSeed,
      SERVICE_NAME: 'operator',
      NODE_ENV: 'development',
    }),
  );
  try {
    const rpc = new messaging.RpcClient(nc, { defaultTimeoutMs: 10_000 });
    /** @type {OperatorCall} */
    const call = async (contract, request) => {
      // The apps are still starting: a call nobody answers yet is asked again.
      for (;;) {
        try {
          return await rpc.call(/** @type {never} */ (contract), /** @type {never} */ (request));
        } catch (error) {
          const startingUp =
            isTesseraError(error) &&
            /** @type {string[]} */ ([
              ErrorCode.NoResponders,
              ErrorCode.Timeout,
              ErrorCode.Unavailable,
            ]).includes(error.code);
          if (!startingUp || stopped()) throw error;
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
      }
    };
    return await local.seed(call);
  } catch (error) {
    if (stopped()) return undefined;
    throw error;
  } finally {
    await nc.close();
  }
}

/**
 * The demo account (with credit), the tiny model's price and its public deployment. Each call
 * is idempotent: an account or deployment that exists is left as it is.
 * @param {OperatorCall} call
 * @param {{ uri: string, sha256: string }} model
 * @returns {Promise<DemoSummary>}
 */
async function seedDemo(call, model) {
  const contracts = await import('@tessera/contracts');
  const { isTesseraError } = contracts;
  /** @param {Promise<unknown>} promise @param {string} code */
  const unless = (promise, code) =>
    promise.catch((/** @type {unknown} */ error) => {
      if (!isTesseraError(error) || error.code !== code) throw error;
    });
  await unless(
    call(contracts.OpenAccount, { accountId: DEMO.accountId, name: 'Demo account' }),
    'billing.ACCOUNT_EXISTS',
  );
  await call(contracts.CreditAccount, {
    accountId: DEMO.accountId,
    idempotencyKey: 'local-platform-welcome-credit',
    amount: DEMO.creditNanoUsd,
    reason: 'local platform demo credit',
  });
  // $0.10 per million input tokens, $0.20 per million output tokens.
  await call(contracts.SetModelPrice, {
    model: DEMO.deploymentId,
    inputNanoUsdPerMillion: '100000000',
    outputNanoUsdPerMillion: '200000000',
  });
  await unless(
    call(contracts.CreateDeployment, {
      deploymentId: DEMO.deploymentId,
      name: DEMO.deploymentId,
      ownerAccountId: DEMO.accountId,
      model: { uri: model.uri, revision: 'tiny-seed-7', sha256: model.sha256 },
      engine: { name: 'llama' },
      gpu: { count: 1 },
      concurrency: 4,
      minReplicas: 1,
      maxReplicas: 1,
      visibility: 'public',
    }),
    'scheduler.DEPLOYMENT_EXISTS',
  );
  return { accountId: DEMO.accountId, deploymentId: DEMO.deploymentId, model: DEMO.deploymentId };
}

/**
 * A random secret kept in the data directory (mode 0600), the same on every run: a local stand-in
 * for a deployment secret. Never printed.
 * @param {string} path
 * @returns {string}
 */
function localSecret(path) {
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  const secret = randomBytes(32).toString('hex');
  writeFileSync(path, `${secret}\n`, { mode: 0o600 });
  return secret;
}

import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import {
  CreditAccount,
  GetAccount,
  GetPriceBook,
  IssueApiKey,
  OpenAccount,
  SetGpuPrice,
  SetModelPrice,
  SetTaoPrice,
  apiKeyScopeSchema,
  isTesseraError,
  type ApiKeyScope,
} from '@tessera/contracts';
import { RpcClient } from '@tessera/platform/messaging';

export const USAGE = `tessera-billing <command> [options]   (talks to the running billing service over NATS)

  open-account --account <id> --name <name> [--scopes inference,account:read] [--key-name <name>]
      opens the account and issues its first API key (the key is printed once)
  credit --account <id> --amount <nano-USD> --key <idempotency key> [--reason <text>]
  set-tao-price --nano-usd-per-tao <n>
  set-model-price --model <name> --input <nano-USD per 1M tokens> --output <nano-USD per 1M tokens>
  set-gpu-price --gpu <type> --training <nano-USD per hour> --deployment <nano-USD per hour>
  show-account --account <id>
  prices

  environment: NATS_URL (default nats://127.0.0.1:4222), NATS_SUBJECT_PREFIX`;

/** Runs one command; returns the process exit code. Output goes to `write`. */
export async function runCli(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  write: (line: string) => void,
): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: [...rest],
    options: {
      account: { type: 'string' },
      name: { type: 'string' },
      scopes: { type: 'string' },
      'key-name': { type: 'string' },
      amount: { type: 'string' },
      key: { type: 'string' },
      reason: { type: 'string' },
      'nano-usd-per-tao': { type: 'string' },
      model: { type: 'string' },
      input: { type: 'string' },
      output: { type: 'string' },
      gpu: { type: 'string' },
      training: { type: 'string' },
      deployment: { type: 'string' },
    },
    strict: true,
  });
  const required = (name: keyof typeof values): string => {
    const value = values[name];
    if (typeof value !== 'string') throw new UsageError(`--${name} is required`);
    return value;
  };
  const connection = await connect({
    servers: env['NATS_URL'] ?? 'nats://127.0.0.1:4222',
    name: 'tessera-billing-cli',
  });
  const rpc = new RpcClient(connection, { subjectPrefix: env['NATS_SUBJECT_PREFIX'] ?? '' });
  const print = (value: unknown) => write(JSON.stringify(value, null, 2));
  try {
    switch (command) {
      case 'open-account': {
        const accountId = required('account');
        const opened = await rpc.call(OpenAccount, { accountId, name: required('name') });
        const scopes = (values.scopes ?? 'inference,account:read')
          .split(',')
          .map((scope) => apiKeyScopeSchema.parse(scope.trim()) as ApiKeyScope);
        const key = await rpc.call(IssueApiKey, {
          accountId,
          name: values['key-name'] ?? 'first key',
          scopes,
        });
        print({ ...opened, apiKey: key.key, keyId: key.keyId, note: 'the API key is shown only now' });
        return 0;
      }
      case 'credit':
        print(
          await rpc.call(CreditAccount, {
            accountId: required('account'),
            amount: required('amount'),
            idempotencyKey: required('key'),
            reason: values.reason ?? 'operator credit',
          }),
        );
        return 0;
      case 'set-tao-price':
        print(await rpc.call(SetTaoPrice, { nanoUsdPerTao: required('nano-usd-per-tao') }));
        return 0;
      case 'set-model-price':
        print(
          await rpc.call(SetModelPrice, {
            model: required('model'),
            inputNanoUsdPerMillion: required('input'),
            outputNanoUsdPerMillion: required('output'),
          }),
        );
        return 0;
      case 'set-gpu-price':
        print(
          await rpc.call(SetGpuPrice, {
            gpuType: required('gpu'),
            trainingNanoUsdPerHour: required('training'),
            deploymentNanoUsdPerHour: required('deployment'),
          }),
        );
        return 0;
      case 'show-account':
        print(await rpc.call(GetAccount, { accountId: required('account') }));
        return 0;
      case 'prices':
        print(await rpc.call(GetPriceBook, {}));
        return 0;
      default:
        write(USAGE);
        return command === undefined || command === 'help' ? 0 : 2;
    }
  } catch (err) {
    if (err instanceof UsageError) {
      write(`${err.message}\n\n${USAGE}`);
      return 2;
    }
    if (isTesseraError(err)) {
      write(`error ${err.code}: ${err.message}`);
      return 1;
    }
    throw err;
  } finally {
    await connection.close();
  }
}

class UsageError extends Error {}

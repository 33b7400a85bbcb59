import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const LAYERING_RULE = 'boundaries/dependencies';

/**
 * Lints `imports` as the body of a file at `filePath` (relative to the repository root; the file
 * need not exist) with the repository's own config, and returns the imported modules the
 * layering rule rejected.
 */
async function rejectedImports(
  eslint: ESLint,
  filePath: string,
  imports: readonly string[],
): Promise<string[]> {
  const source = imports.map((module, index) => `import * as m${index} from '${module}';\n`).join('');
  const body = `${source}export const all = [${imports.map((_, index) => `m${index}`).join(', ')}];\n`;
  const [result] = await eslint.lintText(body, { filePath: `${repoRoot}${filePath}` });
  if (!result) throw new Error(`no lint result for ${filePath}`);
  const fatal = result.messages.find((message) => message.fatal);
  if (fatal) throw new Error(`${filePath} did not parse: ${fatal.message}`);
  return result.messages
    .filter((message) => message.ruleId === LAYERING_RULE)
    .map((message) => imports[message.line - 1] ?? `line ${message.line}`);
}

// Each case lints a made-up file with imports the layering allows and imports it forbids: the
// rule must reject exactly the forbidden ones (so it neither sleeps nor flags everything).
describe('the layering lint (eslint.config.js)', () => {
  let eslint: ESLint;

  beforeAll(() => {
    eslint = new ESLint({ cwd: repoRoot });
  });

  it('rejects a package importing an app, by name or by relative path', async () => {
    const rejected = await rejectedImports(eslint, 'packages/eventstore/src/layering-probe.ts', [
      '@tessera/contracts',
      '@tessera/billing',
      '../../../apps/billing/src/config.js',
    ]);
    expect(rejected).toEqual(['@tessera/billing', '../../../apps/billing/src/config.js']);
  });

  it('rejects an app importing another app, and allows its own files and the packages', async () => {
    const rejected = await rejectedImports(eslint, 'apps/chain-indexer/src/layering-probe.ts', [
      './config.js',
      '@tessera/platform',
      '@tessera/platform/messaging',
      '@tessera/billing',
      '../../billing/src/config.js',
    ]);
    expect(rejected).toEqual(['@tessera/billing', '../../billing/src/config.js']);
  });

  it('rejects frameworks in contracts', async () => {
    const rejected = await rejectedImports(eslint, 'packages/contracts/src/layering-probe.ts', [
      'zod',
      'node:crypto',
      '@nestjs/common',
      '@nats-io/transport-node',
      'pg',
      'typeorm',
      '@tessera/eventstore',
    ]);
    expect(rejected).toEqual([
      '@nestjs/common',
      '@nats-io/transport-node',
      'pg',
      'typeorm',
      '@tessera/eventstore',
    ]);
  });

  it("rejects NATS, the event store and microservices in the platform's core, and allows them on its messaging side", async () => {
    const forbiddenInCore = [
      '../rpc/rpc-client.js',
      '../messaging/index.js',
      '@nats-io/transport-node',
      '@tessera/eventstore',
      '@nestjs/microservices',
    ];
    const core = await rejectedImports(eslint, 'packages/platform/src/health/layering-probe.ts', [
      '../logging/logger.js',
      '@nestjs/common',
      ...forbiddenInCore,
    ]);
    expect(core).toEqual(forbiddenInCore);

    const messaging = await rejectedImports(eslint, 'packages/platform/src/rpc/layering-probe.ts', [
      '../logging/logger.js',
      '@nats-io/transport-node',
      '@tessera/eventstore',
      '@nestjs/microservices',
    ]);
    expect(messaging).toEqual([]);
  });

  it('rejects the event store and the messaging platform in the miner agent', async () => {
    const rejected = await rejectedImports(eslint, 'apps/miner-agent/src/layering-probe.ts', [
      '@tessera/platform',
      '@tessera/contracts',
      '@tessera/eventstore',
      '@tessera/platform/messaging',
      '@nats-io/transport-node',
    ]);
    expect(rejected).toEqual([
      '@tessera/eventstore',
      '@tessera/platform/messaging',
      '@nats-io/transport-node',
    ]);
  });
});

// What issue 9 item 11 is about: on a fresh clone, `npx tessera-billing` answered npm's 404
// because its bin lived in dist/, which does not exist when npm links bins at install time.
// This test makes the fresh clone (the working tree, nothing ignored by git: no node_modules, no
// dist/, no .data/), installs it, and checks that `npx tessera` is there before anything is
// built (saying what to run), and that after the build it drives billing as `npm start` runs it,
// finding NATS and the operator's seed by itself.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { findFreePort, startManagedProcess, type ManagedProcess } from '@tessera/devservers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliRoot, run, waitUntilReady, type CliResult } from './processes.js';

const repoRoot = resolve(cliRoot, '..', '..');

/**
 * `git clone` of this repository, then the working tree's uncommitted changes on top (modified,
 * deleted and new files that git does not ignore), so the test checks the tree as it is now.
 */
function cloneWorkingTree(into: string): void {
  execFileSync('git', ['clone', '--quiet', '--no-hardlinks', repoRoot, into]);
  const changed = execFileSync(
    'git',
    ['-C', repoRoot, 'ls-files', '-z', '--modified', '--others', '--exclude-standard'],
    { encoding: 'utf8' },
  )
    .split('\0')
    .filter((path) => path !== '');
  for (const path of changed) {
    const target = join(into, path);
    if (existsSync(join(repoRoot, path))) {
      mkdirSync(dirname(target), { recursive: true });
      copyFileSync(join(repoRoot, path), target);
    } else {
      rmSync(target, { force: true });
    }
  }
}

describe('a fresh clone: install, build, npm start, npx tessera', () => {
  let workDir: string;
  let clone: string;
  let start: ManagedProcess | undefined;
  /** Only what a shell on a fresh machine has: nothing that says where NATS is or holds a seed. */
  const shellEnv: Record<string, string> = { TURBO_TELEMETRY_DISABLED: '1' };
  const inClone = (command: string, ...args: string[]): Promise<CliResult> =>
    run(command, args, { env: shellEnv, cwd: clone });

  beforeAll(() => {
    workDir = mkdtempSync(join(tmpdir(), 'tessera-fresh-clone-'));
    // Postgres runs as the postgres user when the tests run as root: it must reach its data dir.
    chmodSync(workDir, 0o755);
    clone = join(workDir, 'tessera');
    cloneWorkingTree(clone);
  });

  afterAll(async () => {
    await start?.stop('SIGINT', 30_000);
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('has `npx tessera` right after npm install, saying what to run while nothing is built', async () => {
    // npm's own cache serves what it already has; what it lacks comes from the registry.
    const installed = await inClone('npm', 'ci', '--prefer-offline', '--no-audit', '--no-fund');
    expect(installed.code, installed.stderr).toBe(0);

    const unbuilt = await inClone('npx', '--no-install', 'tessera', '--help');
    expect(unbuilt.code, unbuilt.stderr).toBe(2);
    expect(unbuilt.stderr).toContain('tessera: the CLI (tools/cli/dist) is not built yet. Run `npm start`');
    expect(unbuilt.stderr).not.toContain('404');
  }, 600_000);

  it('after the build, prints its help and opens an account on billing run by npm start', async () => {
    const built = await inClone(
      'npx',
      'turbo',
      'run',
      'build',
      '--filter=@tessera/cli',
      '--filter=@tessera/billing',
      '--filter=@tessera/devservers',
    );
    expect(built.code, built.stdout + built.stderr).toBe(0);

    const help = await inClone('npx', '--no-install', 'tessera', '--help');
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage: tessera [options] [command]');
    expect(help.stdout).toMatch(/^ {2}accounts\s/m);

    // `npm start` after its build step (tools/start/start.js): its own NATS with permissions
    // enforced and its own Postgres, on free ports, and every built app (here: billing).
    const [natsPort, postgresPort, billingPort] = [
      await findFreePort(),
      await findFreePort(),
      await findFreePort(),
    ];
    start = startManagedProcess({
      name: 'npm-start',
      command: process.execPath,
      args: [join(clone, 'tools', 'start', 'start.js')],
      cwd: clone,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '',
        NATS_PORT: String(natsPort),
        POSTGRES_PORT: String(postgresPort),
        BILLING_HTTP_PORT: String(billingPort),
        LOG_LEVEL: 'warn',
      },
    });
    await waitUntilReady(billingPort, () =>
      start?.exitInfo() ? new Error(`npm start exited:\n${start.recentOutput()}`) : undefined,
    );

    // No NATS_URL, no seed: the CLI reads both from .data/nats-keys, where npm start wrote them.
    const opened = await inClone(
      'npx',
      '--no-install',
      'tessera',
      'accounts',
      'open',
      '--account',
      'fresh',
      '--name',
      'Fresh Clone',
    );
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout).toMatch(/^account\s+fresh$/m);

    const shown = await inClone(
      'npm',
      'run',
      '--silent',
      'tessera',
      '--',
      '--json',
      'accounts',
      'show',
      '--account',
      'fresh',
    );
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      accountId: 'fresh',
      name: 'Fresh Clone',
      status: 'open',
      balance: '0',
    });
  }, 600_000);
});

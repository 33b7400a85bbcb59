// The processes the CLI's tests drive: the CLI itself (as an operator runs it), and billing.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findFreePort, startManagedProcess, type ManagedProcess } from '@tessera/devservers';

export const cliRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(cliRoot, 'bin', 'tessera.js');

/** How one command line ended. */
export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `command args…` to its end with exactly `env` (plus PATH and HOME), as a shell would:
 * nothing of the test's own environment leaks in.
 */
export function run(
  command: string,
  args: readonly string[],
  options: { env: Record<string, string>; cwd: string },
): Promise<CliResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, [...args], {
      cwd: options.cwd,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

/** Runs this workspace's `tessera` (bin/tessera.js, loading the built dist/) with `env`. */
export function tessera(
  args: readonly string[],
  env: Record<string, string>,
  cwd = cliRoot,
): Promise<CliResult> {
  return run(process.execPath, [bin, ...args], { env, cwd });
}

/** A built billing (`@tessera/billing`'s dist/main.js) running as its own process. */
export interface BillingProcess {
  readonly process: ManagedProcess;
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts billing with `env` (plus an HTTP port) and waits until `/health/ready` answers 200. */
export async function startBilling(env: Record<string, string>): Promise<BillingProcess> {
  const main = createRequire(import.meta.url).resolve('@tessera/billing');
  const port = await findFreePort();
  const billing = startManagedProcess({
    name: 'billing',
    command: process.execPath,
    args: [main],
    env: { PATH: process.env['PATH'] ?? '', ...env, HTTP_PORT: String(port) },
  });
  await waitUntilReady(port, () => {
    const exit = billing.exitInfo();
    return exit ? new Error(`billing exited before it was ready:\n${billing.recentOutput()}`) : undefined;
  });
  return { process: billing, port, stop: () => billing.stop('SIGTERM') };
}

/** Polls a service's `/health/ready` until it answers 200; `failed` ends the wait early. */
export async function waitUntilReady(
  port: number,
  failed: () => Error | undefined,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const error = failed();
    if (error) throw error;
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`no ready service on port ${port} within ${timeoutMs} ms`);
    await new Promise((wake) => setTimeout(wake, 200));
  }
}

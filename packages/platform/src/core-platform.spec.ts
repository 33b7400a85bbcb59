import { fileURLToPath } from 'node:url';
import { findFreePort, startManagedProcess, waitForPort, type ManagedProcess } from '@tessera/devservers';
import { eventually } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const mainPath = fileURLToPath(new URL('./__tests__/core-service.main.ts', import.meta.url));

interface LogLine {
  level: string;
  msg: string;
  service?: string;
  correlationId?: string;
}

function logLines(service: ManagedProcess): LogLine[] {
  return service
    .recentOutput()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

// What the miner agent needs: a service on `@tessera/platform` alone, started as a process with
// neither NATS_URL nor DATABASE_URL in its environment.
describe('the core platform without NATS or a database', () => {
  let service: ManagedProcess;
  let baseUrl: string;

  beforeAll(async () => {
    const port = await findFreePort();
    baseUrl = `http://127.0.0.1:${port}`;
    service = startManagedProcess({
      name: 'core-service',
      command: process.execPath,
      args: ['--import', 'tsx', mainPath],
      env: {
        PATH: process.env['PATH'] ?? '',
        SERVICE_NAME: 'miner-agent',
        HTTP_PORT: String(port),
        SHUTDOWN_GRACE_MS: '3000',
      },
    });
    await waitForPort('127.0.0.1', port, 60_000, () =>
      service.exitInfo() ? new Error(`service exited:\n${service.recentOutput()}`) : undefined,
    );
  });

  afterAll(async () => {
    await service.kill();
  });

  it('starts and loads nothing of NATS, the event store or Nest microservices', async () => {
    const report = await eventually(
      () => /forbidden modules resolved: (.*)/.exec(service.recentOutput()) ?? undefined,
      'the module report',
    );
    expect(JSON.parse(report[1] ?? 'null')).toEqual([]);
    // stdout (logs) and stderr (the report) are separate pipes: either may arrive first.
    await eventually(
      () => logLines(service).find((line) => line.msg === 'service started'),
      'the start log line',
    );
  });

  it('serves liveness, readiness (with no indicator) and its own routes, logging with the correlation id', async () => {
    expect((await fetch(`${baseUrl}/health/live`)).status).toBe(200);
    const ready = await fetch(`${baseUrl}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, shuttingDown: false, indicators: {} });

    const greeting = await fetch(`${baseUrl}/greeting`, { headers: { 'x-correlation-id': 'core-check-1' } });
    expect(await greeting.json()).toEqual({ greeting: 'hello' });
    expect(greeting.headers.get('x-correlation-id')).toBe('core-check-1');
    const served = await eventually(
      () => logLines(service).find((line) => line.msg === 'greeting served'),
      'the request log line',
    );
    expect(served).toMatchObject({ level: 'info', service: 'miner-agent', correlationId: 'core-check-1' });
  });

  it('shuts down gracefully on SIGTERM', async () => {
    await service.stop('SIGTERM', 10_000);
    expect(service.exitInfo()).toEqual({ code: 0, signal: null });
    const messages = logLines(service).map((line) => line.msg);
    expect(messages).toContain('signal received');
    expect(messages).toContain('drained');
  });
});

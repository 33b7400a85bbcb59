import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo } from 'node:net';
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTelemetry, type TelemetryShutdown } from './telemetry.js';

interface Received {
  path: string | undefined;
  contentType: string | undefined;
  body: string;
}

const memory = new InMemorySpanExporter();
const received: Received[] = [];
let collector: Server;
let shutdown: TelemetryShutdown;
let env: TestEnvironment;

beforeAll(async () => {
  // A stand-in OTLP/HTTP collector: records what the exporter posts.
  collector = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        path: request.url,
        contentType: request.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
      });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  }).listen(0, '127.0.0.1');
  await new Promise((resolve) => collector.once('listening', resolve));
  const { port } = collector.address() as AddressInfo;
  shutdown = startTelemetry({
    serviceName: 'telemetry-test',
    otlpEndpoint: `http://127.0.0.1:${port}`,
    spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
  });
  env = await useTestEnvironment();
});

afterAll(async () => {
  await env.cleanup();
  collector.close();
});

describe('startTelemetry', () => {
  it('traces Postgres queries and incoming HTTP requests, including modules loaded through ESM', async () => {
    // Loaded after telemetry started, as bootstrapService does with the app module.
    const { DataSource } = await import('typeorm');
    const http = await import('node:http');
    const dataSource = new DataSource({ type: 'postgres', url: env.databaseUrl });
    await dataSource.initialize();
    await dataSource.query('SELECT 42 AS answer');
    await dataSource.destroy();

    const server = http.createServer((_request, response) => response.end('ok')).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/models`);
    server.close();

    const names = memory.getFinishedSpans().map((span) => span.name);
    expect(names.some((name) => name.startsWith('pg.query'))).toBe(true);
    expect(names).toContain('GET');
  });

  it('exports spans to the OTLP/HTTP endpoint under /v1/traces', async () => {
    trace.getTracer('test').startSpan('exported-span').end();
    await shutdown();
    const traces = received.filter((request) => request.path === '/v1/traces');
    expect(traces.length).toBeGreaterThan(0);
    expect(traces.some((request) => request.body.includes('exported-span'))).toBe(true);
    expect(traces.some((request) => request.body.includes('telemetry-test'))).toBe(true);
  });
});

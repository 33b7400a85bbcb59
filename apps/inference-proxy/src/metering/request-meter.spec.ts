// The meter against a real JetStream: completed requests go out in batches (one commit each),
// every request id exactly once, and nothing is left waiting after a flush.
import { RequestCompleted, Streams } from '@tessera/contracts';
import { sleep } from '@tessera/devservers';
import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outside, type Outside } from '../__tests__/edge-processes.js';
import { RequestMeter, type CompletedRequest } from './request-meter.js';

const completed = (requestId: string): CompletedRequest => ({
  requestId,
  accountId: 'acct-meter',
  keyId: 'meterkey00000001',
  model: 'tiny-chat',
  promptTokens: 3,
  completionTokens: 5,
  streamed: false,
  grantId: null,
  minerHotkey: null,
  instanceId: null,
  latency: { firstTokenMs: 1, totalMs: 2 },
  status: 'succeeded',
});

describe('RequestMeter', () => {
  let env: TestEnvironment;
  let world: Outside;

  beforeAll(async () => {
    env = await useTestEnvironment();
    world = await outside(env);
  });

  afterAll(async () => {
    await world?.close();
    await env?.cleanup();
  });

  /** The INFERENCE stream's messages after `after`, each as the request ids it carries. */
  async function messagesAfter(after: number): Promise<string[][]> {
    return (await world.inferenceMessages(after)).map((message) =>
      message.events.filter((event) => RequestCompleted.is(event)).map((event) => event.data.requestId),
    );
  }

  const lastSequence = () => world.store.lastSequence(Streams.INFERENCE);

  it('appends requests completed together as batches of at most maxBatch, each id once', async () => {
    const meter = new RequestMeter(world.store, pino({ level: 'silent' }), {
      lingerMs: 1_000,
      maxBatch: 100,
    });
    const before = await lastSequence();
    const ids = Array.from({ length: 250 }, (_, i) => `req_batch_${i}`);
    for (const id of ids) meter.record(completed(id));
    await meter.flush();

    const messages = await messagesAfter(before);
    expect(messages.map((message) => message.length)).toEqual([100, 100, 50]);
    expect(messages.flat()).toEqual(ids);
  });

  it('sends a lone request after the linger time without a flush', async () => {
    const meter = new RequestMeter(world.store, pino({ level: 'silent' }), { lingerMs: 20 });
    const before = await lastSequence();
    meter.record(completed('req_alone_1'));
    meter.record(completed('req_alone_2'));
    let messages: string[][] = [];
    for (let attempt = 0; attempt < 100 && messages.length === 0; attempt++) {
      await sleep(20);
      messages = await messagesAfter(before);
    }
    expect(messages).toEqual([['req_alone_1', 'req_alone_2']]);

    meter.record(completed('req_alone_3'));
    await meter.flush();
    expect((await messagesAfter(before)).flat()).toEqual(['req_alone_1', 'req_alone_2', 'req_alone_3']);
  });
});

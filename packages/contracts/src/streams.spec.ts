import { describe, expect, it } from 'vitest';
import { allStreams, contextOf, streamFor, streamIdOf, streamIdSchema, Streams } from './streams.js';

describe('streams and subjects', () => {
  it('declares one stream per context, capturing <context>.>', () => {
    expect(allStreams.map((stream) => stream.name)).toEqual([
      'CHAIN',
      'BILLING',
      'SCHEDULER',
      'INFERENCE',
      'TRAINING',
      'SCORING',
    ]);
    expect(Streams.BILLING.subjects).toEqual(['billing.>']);
  });

  it('builds and routes stream ids', () => {
    const id = streamIdOf('billing', 'account', 'acc_01');
    expect(id).toBe('billing.account.acc_01');
    expect(contextOf(id)).toBe('billing');
    expect(streamFor(id).name).toBe('BILLING');
  });

  it.each(['a.b', 'a*', '>', 'with space', ''])('refuses the aggregate id %j', (aggregateId) => {
    expect(() => streamIdOf('billing', 'account', aggregateId)).toThrow(RangeError);
  });

  it('refuses stream ids of unknown contexts or with wildcards', () => {
    expect(streamIdSchema.safeParse('ledger.account.1').success).toBe(false);
    expect(streamIdSchema.safeParse('billing.account.*').success).toBe(false);
    expect(streamIdSchema.safeParse('billing.account').success).toBe(false);
  });
});

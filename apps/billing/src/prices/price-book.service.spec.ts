import { useTestEnvironment, type TestEnvironment } from '@tessera/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outside, type Outside } from '../__tests__/billing-app.fixture.js';
import { PriceBookService } from './price-book.service.js';

/**
 * Two replicas' price books over one event store: what one sets, the other must see where a
 * missing price would change a decision (a deposit suspended, a charge parked), even inside the
 * second its cached book is otherwise trusted.
 */
describe('PriceBookService across replicas', () => {
  let env: TestEnvironment;
  let ext: Outside;

  beforeAll(async () => {
    env = await useTestEnvironment();
    ext = await outside(env);
  });

  afterAll(async () => {
    await ext.close();
    await env.cleanup();
  });

  it('reads a price another replica set a moment after this one read the book, where it decides what happens', async () => {
    const here = new PriceBookService(ext.store);
    const there = new PriceBookService(ext.store);
    expect(await here.taoPrice()).toBeUndefined();
    expect((await here.current()).models.has('fresh-model')).toBe(false);

    await there.change({ kind: 'setTaoPrice', nanoUsdPerTao: 400_000_000_000n }, 'operator:test');
    await there.change(
      {
        kind: 'setModelPrice',
        model: 'fresh-model',
        price: { inputNanoUsdPerMillion: 1_000n, outputNanoUsdPerMillion: 2_000n },
      },
      'operator:test',
    );

    // Within the second the cached book is trusted: a deposit's price, and a look asked to be
    // fresh, see the stream's head all the same.
    expect(await here.taoPrice()).toEqual({ nanoUsdPerTao: 400_000_000_000n, priceVersion: 2 });
    expect((await here.current({ fresh: true })).models.get('fresh-model')).toEqual({
      inputNanoUsdPerMillion: 1_000n,
      outputNanoUsdPerMillion: 2_000n,
    });
  });
});

import { describe, expect, it } from 'vitest';
import { retryUntilStopped, untilAborted } from './stoppable-retry.js';

describe('retryUntilStopped', () => {
  it('retries a failing task until it succeeds, reporting each failure', async () => {
    let calls = 0;
    const retries: number[] = [];
    const result = await retryUntilStopped(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error(`fail ${calls}`);
        return 'done';
      },
      new AbortController().signal,
      { initialDelayMs: 1, maxDelayMs: 2, onRetry: (_err, attempt) => retries.push(attempt) },
    );
    expect(result).toBe('done');
    expect(calls).toBe(3);
    expect(retries).toEqual([1, 2]);
  });

  it('throws at once what it is told not to retry', async () => {
    let calls = 0;
    const err = await retryUntilStopped(
      async () => {
        calls += 1;
        throw new Error('poison');
      },
      new AbortController().signal,
      { initialDelayMs: 1, maxDelayMs: 2, retryWhen: () => false },
    ).catch((error: unknown) => error);
    expect(err).toMatchObject({ message: 'poison' });
    expect(calls).toBe(1);
  });

  it('ends a long backoff as soon as the signal aborts, with its reason', async () => {
    const controller = new AbortController();
    const reason = new Error('stopping');
    let calls = 0;
    const run = retryUntilStopped(
      async () => {
        calls += 1;
        // Abort while the policy waits out an hour-long backoff.
        setImmediate(() => controller.abort(reason));
        throw new Error('transient');
      },
      controller.signal,
      { initialDelayMs: 3_600_000, maxDelayMs: 3_600_000 },
    );
    await expect(run).rejects.toBe(reason);
    expect(calls).toBe(1);
  });
});

describe('untilAborted', () => {
  it('passes the result through, or the reason of an earlier abort', async () => {
    await expect(untilAborted(Promise.resolve(1), new AbortController().signal)).resolves.toBe(1);
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    await expect(untilAborted(new Promise(() => undefined), controller.signal)).rejects.toMatchObject({
      message: 'gone',
    });
  });
});

import { describe, expect, it, vi } from 'vitest';
import { WakeableSleep } from './wakeable-sleep.js';

describe('WakeableSleep', () => {
  it('ends a long sleep as soon as it is woken', async () => {
    vi.useFakeTimers();
    try {
      const idle = new WakeableSleep();
      let finished = false;
      const sleeping = idle.sleep(60_000).then(() => (finished = true));
      await vi.advanceTimersByTimeAsync(1_000);
      expect(finished).toBe(false);
      idle.wake();
      await sleeping;
      expect(finished).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('ends on its own when nobody wakes it, and a wake with no sleeper does nothing', async () => {
    vi.useFakeTimers();
    try {
      const idle = new WakeableSleep();
      idle.wake();
      let finished = false;
      const sleeping = idle.sleep(500).then(() => (finished = true));
      await vi.advanceTimersByTimeAsync(499);
      expect(finished).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      await sleeping;
      expect(finished).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });
});

/**
 * A pause that something else can end early: a loop that polls for work sleeps here, and the
 * code that learns of new work (a new finalized head, a new proposal) or a stop request wakes it.
 */
export class WakeableSleep {
  private wakeCurrent: (() => void) | undefined;

  /** Resolves after `ms`, or as soon as {@link wake} is called. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        if (this.wakeCurrent === done) this.wakeCurrent = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeCurrent = done;
    });
  }

  /** Ends the current sleep, if any. */
  wake(): void {
    this.wakeCurrent?.();
  }
}

/** A sleep that `wake()` (new work, shutdown) ends early. */
export class WakeableSleep {
  private wakeUp: (() => void) | undefined;
  private pending = false;

  /** Resolves after `ms`, or as soon as `wake` is called (also when it was called since the last sleep). */
  sleep(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  wake(): void {
    if (this.wakeUp) this.wakeUp();
    else this.pending = true;
  }
}

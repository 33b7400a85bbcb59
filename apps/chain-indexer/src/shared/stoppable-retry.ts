import { ExponentialBackoff, handleWhen, retry, type IRetryContext } from 'cockatiel';

export interface RetryForeverOptions {
  /** Which failures to retry; the rest are thrown at once. Default: every failure. */
  retryWhen?: (err: unknown) => boolean;
  initialDelayMs: number;
  maxDelayMs: number;
  /** Called before each backoff, with the failure and the delay about to be waited. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `task` until it succeeds, with exponential backoff between failures (cockatiel), and
 * stops at once when `signal` aborts: cockatiel's backoff delay does not listen to the signal,
 * so the wait is raced against it (the timer is unref'd and cannot keep the process alive).
 * Rejects with the signal's reason on abort.
 */
export function retryUntilStopped<T>(
  task: (context: IRetryContext) => Promise<T>,
  signal: AbortSignal,
  options: RetryForeverOptions,
): Promise<T> {
  const policy = retry(handleWhen(options.retryWhen ?? (() => true)), {
    maxAttempts: Number.POSITIVE_INFINITY,
    backoff: new ExponentialBackoff({ initialDelay: options.initialDelayMs, maxDelay: options.maxDelayMs }),
  }).dangerouslyUnref();
  const listener = policy.onRetry((event) => {
    if ('error' in event) options.onRetry?.(event.error, event.attempt, event.delay);
  });
  const run = policy.execute((context) => {
    context.signal.throwIfAborted();
    return task(context);
  }, signal);
  return untilAborted(run, signal).finally(() => listener.dispose());
}

/** `promise`, or a rejection with the signal's reason as soon as `signal` aborts. */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

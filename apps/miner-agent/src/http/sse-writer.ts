import { once } from 'node:events';
import type { ServerResponse } from 'node:http';

/**
 * Server-sent events the way OpenAI streams them (`data: <json>\n\n`, then `data: [DONE]`).
 * `send` resolves only once the socket has room again (or the client left), so whoever produces
 * the events is held back by a slow reader instead of filling memory.
 */
export class SseWriter {
  constructor(private readonly res: ServerResponse) {}

  get closed(): boolean {
    return this.res.destroyed || this.res.writableEnded;
  }

  start(headers: Record<string, string> = {}): void {
    this.res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    // Headers go out now, not with the first event: a client learns at once that the stream began.
    this.res.flushHeaders();
  }

  async send(event: unknown): Promise<void> {
    await this.write(`data: ${JSON.stringify(event)}\n\n`);
  }

  async done(): Promise<void> {
    await this.write('data: [DONE]\n\n');
    this.res.end();
  }

  private async write(frame: string): Promise<void> {
    if (this.closed) return;
    if (!this.res.write(frame)) await drainedOrClosed(this.res);
  }
}

/** Resolves when `res` can take more data or is gone; leaves no listener behind. */
async function drainedOrClosed(res: ServerResponse): Promise<void> {
  const cleanup = new AbortController();
  const wait = (event: string) => once(res, event, { signal: cleanup.signal }).catch(() => undefined);
  try {
    await Promise.race([wait('drain'), wait('close')]);
  } finally {
    cleanup.abort();
  }
}

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ControlApi } from '../control-api/control-api.js';
import type { DataPlaneProxy } from '../data-plane/data-plane-proxy.js';
import { openAiErrors, sendOpenAiError } from '../openai/openai-error.js';

// Instance ids are limited to characters that need no escaping, so the raw segment is the id.
const DATA_PLANE_PATH = /^\/instances\/([^/]+)(\/v1(?:\/.*)?)$/;

/**
 * The miner's public port (the one its axon announces): the signed control API and every
 * instance's data plane. A plain `node:http` server rather than the platform's Nest app (which
 * serves health on `HTTP_PORT`): signatures cover the exact body bytes and the data plane streams
 * bodies through untouched, while Nest's Express adapter parses JSON bodies before any handler
 * runs. The hot path stays free of framework layers.
 */
export class MinerHttpServer {
  private server: Server | undefined;

  constructor(
    private readonly control: ControlApi,
    private readonly dataPlane: DataPlaneProxy,
    private readonly logger: Logger,
  ) {}

  async listen(host: string, port: number): Promise<number> {
    const server = createServer((req, res) => this.dispatch(req, res));
    // Longer than common client pools' idle timeout, so clients do not reuse a socket we are closing.
    server.keepAliveTimeout = 65_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    const bound = (server.address() as AddressInfo).port;
    this.logger.info({ host, port: bound }, 'miner API listening');
    return bound;
  }

  /**
   * Stops taking connections and waits for requests in flight (long streams included) until
   * `deadline`, then cuts what is left.
   */
  async close(deadline: AbortSignal): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    const onDeadline = (): void => server.closeAllConnections();
    deadline.addEventListener('abort', onDeadline, { once: true });
    await closed;
    deadline.removeEventListener('abort', onDeadline);
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const dataPlane = DATA_PLANE_PATH.exec(path);
    const handled = dataPlane
      ? this.dataPlane.handle(
          req,
          res,
          dataPlane[1] ?? '',
          `${dataPlane[2] ?? '/v1'}${query < 0 ? '' : url.slice(query)}`,
        )
      : this.control.handle(req, res, path);
    handled.catch((err: unknown) => {
      this.logger.error({ err, path }, 'request failed');
      sendOpenAiError(res, openAiErrors.internal());
    });
  }
}

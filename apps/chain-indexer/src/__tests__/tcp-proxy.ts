/** A TCP proxy a test can cut, to drop the indexer's chain connection without stopping the chain. */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

export interface TcpProxy {
  readonly port: number;
  /** Starts accepting (again) on the same port. */
  open(): Promise<void>;
  /** Stops accepting and destroys every open connection. */
  close(): Promise<void>;
}

export function tcpProxy(port: number, targetPort: number): TcpProxy {
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  return {
    port,
    async open() {
      server = createServer((client) => {
        const upstream = connect(targetPort, '127.0.0.1');
        sockets.add(client);
        sockets.add(upstream);
        client.pipe(upstream).pipe(client);
        const end = (): void => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', end).on('close', end);
        upstream.on('error', end).on('close', end);
      });
      server.listen(port, '127.0.0.1');
      await once(server, 'listening');
    },
    async close() {
      const closing = server
        ? new Promise<void>((resolve) => server!.close(() => resolve()))
        : Promise.resolve();
      for (const socket of sockets) socket.destroy();
      sockets.clear();
      await closing;
      server = undefined;
    },
  };
}

/**
 * The benchmark's floor: the least a Node proxy can do for a JSON chat completion (read the body,
 * parse it, forward it with undici, relay the answer), with no keys, money, routing, metering or
 * tracing. Not a gateway: it says what rate a pass-through in Node reaches on this machine, so
 * Tessera's and Portkey's rates can be read against it. Forwards to `UPSTREAM_URL` (the mock's
 * chat completions URL); listens on `PORT`.
 */
import { createServer } from 'node:http';
import { Pool } from 'undici';

const upstreamUrl = new URL(process.env['UPSTREAM_URL'] ?? '');
const upstream = new Pool(upstreamUrl.origin, { connections: 256 });

createServer((request, response) => {
  const parts: Buffer[] = [];
  request.on('data', (part: Buffer) => parts.push(part));
  request.on('end', () => {
    const body = Buffer.concat(parts).toString('utf8');
    JSON.parse(body);
    upstream
      .request({
        path: upstreamUrl.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      })
      .then(async (answer) => {
        const text = await answer.body.text();
        response.writeHead(answer.statusCode, { 'content-type': 'application/json' });
        response.end(text);
      })
      .catch((err: unknown) => {
        response.writeHead(502, { 'content-type': 'text/plain' });
        response.end(String(err));
      });
  });
}).listen(Number(process.env['PORT']), '127.0.0.1');

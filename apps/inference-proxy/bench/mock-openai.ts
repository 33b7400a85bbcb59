/**
 * The benchmark's fixed-latency OpenAI backend, run as its own process so its event loop is not
 * the load generator's. Answers `POST …/chat/completions` (any path ending so: the proxy's
 * instance endpoint, Portkey's custom host and the direct URL all land here) after
 * `MOCK_DELAY_MS`: a JSON completion, or with `stream: true` an SSE stream of `MOCK_CHUNKS`
 * content frames `MOCK_CHUNK_INTERVAL_MS` apart (the first with the status line), the usage frame
 * when `stream_options.include_usage` asks for it, and `[DONE]`. Listens on `PORT`.
 */
import { createServer, type ServerResponse } from 'node:http';

const delayMs = Number(process.env['MOCK_DELAY_MS'] ?? 5);
const chunks = Number(process.env['MOCK_CHUNKS'] ?? 16);
const chunkIntervalMs = Number(process.env['MOCK_CHUNK_INTERVAL_MS'] ?? 5);
const PROMPT_TOKENS = 10;

interface ChatBody {
  model?: unknown;
  stream?: unknown;
  stream_options?: { include_usage?: unknown } | null;
}

const usage = {
  prompt_tokens: PROMPT_TOKENS,
  completion_tokens: chunks,
  total_tokens: PROMPT_TOKENS + chunks,
};

function completion(model: string): string {
  return JSON.stringify({
    id: 'chatcmpl-mock',
    object: 'chat.completion',
    created: 1_700_000_000,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'tok '.repeat(chunks).trim() },
        finish_reason: 'stop',
      },
    ],
    usage,
  });
}

function frame(model: string, content: string | null, withUsage: boolean): string {
  const chunk = {
    id: 'chatcmpl-mock',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model,
    choices: content === null ? [] : [{ index: 0, delta: { content }, finish_reason: null }],
    ...(withUsage ? { usage } : {}),
  };
  return `data: ${JSON.stringify(chunk)}\n\n`;
}

function stream(response: ServerResponse, model: string, includeUsage: boolean): void {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let sent = 0;
  const next = () => {
    if (response.destroyed) return;
    response.write(frame(model, 'tok ', false));
    sent += 1;
    if (sent < chunks) {
      setTimeout(next, chunkIntervalMs);
      return;
    }
    if (includeUsage) response.write(frame(model, null, true));
    response.end('data: [DONE]\n\n');
  };
  next();
}

const server = createServer((request, response) => {
  const parts: Buffer[] = [];
  request.on('data', (part: Buffer) => parts.push(part));
  request.on('end', () => {
    if (request.method !== 'POST' || !(request.url ?? '').endsWith('/chat/completions')) {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end(
        '{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}',
      );
      return;
    }
    let body: ChatBody;
    try {
      body = JSON.parse(Buffer.concat(parts).toString('utf8')) as ChatBody;
    } catch {
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end(
        '{"error":{"message":"bad json","type":"invalid_request_error","param":null,"code":null}}',
      );
      return;
    }
    const model = typeof body.model === 'string' ? body.model : 'mock';
    setTimeout(() => {
      if (body.stream === true) stream(response, model, body.stream_options?.include_usage === true);
      else {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(completion(model));
      }
    }, delayMs);
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env['PORT']), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));

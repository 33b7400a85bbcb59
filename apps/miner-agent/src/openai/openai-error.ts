import type { ServerResponse } from 'node:http';
import { type OpenAiErrorResponse, type ValidationError } from '@tessera/contracts';

/**
 * An error answered in OpenAI's shape (`{error: {message, type, param, code}}`) with its HTTP
 * status, so OpenAI SDKs raise their usual error classes. Used by the llama engine's server and
 * by the data plane in front of every engine: one mapping for both.
 */
export class OpenAiError extends Error {
  override readonly name = 'OpenAiError';

  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  toBody(): OpenAiErrorResponse {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const openAiErrors = {
  /** A body that fails its schema: names the first bad field, as OpenAI's `param` does. */
  invalidRequest(err: ValidationError): OpenAiError {
    const first = err.issues[0];
    return new OpenAiError(400, 'invalid_request_error', err.message, first?.path || null, null);
  },
  invalidJson(): OpenAiError {
    return new OpenAiError(400, 'invalid_request_error', 'the request body is not valid JSON', null, null);
  },
  bodyTooLarge(limitBytes: number): OpenAiError {
    return new OpenAiError(413, 'invalid_request_error', `the request body exceeds ${limitBytes} bytes`);
  },
  contextLengthExceeded(promptTokens: number, contextSize: number, param: string): OpenAiError {
    return new OpenAiError(
      400,
      'invalid_request_error',
      `the prompt has ${promptTokens} tokens; this model's context holds ${contextSize}`,
      param,
      'context_length_exceeded',
    );
  },
  modelNotFound(model: string): OpenAiError {
    return new OpenAiError(
      404,
      'invalid_request_error',
      `the model ${model} is not served here`,
      'model',
      'model_not_found',
    );
  },
  routeNotFound(method: string, path: string): OpenAiError {
    return new OpenAiError(404, 'invalid_request_error', `no route ${method} ${path}`, null, 'not_found');
  },
  busy(): OpenAiError {
    return new OpenAiError(
      429,
      'rate_limit_exceeded',
      'every slot of this instance is busy and its queue is full',
      null,
      'rate_limit_exceeded',
    );
  },
  invalidToken(): OpenAiError {
    return new OpenAiError(
      401,
      'invalid_request_error',
      'a valid bearer token for this instance is required',
      null,
      'invalid_api_key',
    );
  },
  instanceNotFound(instanceId: string): OpenAiError {
    return new OpenAiError(
      404,
      'invalid_request_error',
      `no instance ${instanceId} on this miner`,
      null,
      'instance_not_found',
    );
  },
  instanceNotReady(instanceId: string, state: string): OpenAiError {
    return new OpenAiError(
      503,
      'server_error',
      `instance ${instanceId} is ${state}, not ready`,
      null,
      'instance_not_ready',
    );
  },
  upstreamFailed(): OpenAiError {
    return new OpenAiError(
      502,
      'server_error',
      'the instance engine did not answer',
      null,
      'upstream_failed',
    );
  },
  internal(): OpenAiError {
    return new OpenAiError(500, 'server_error', 'the engine failed while answering', null, null);
  },
};

/** Writes `err` as the whole response, unless headers already went out (then the socket just ends). */
export function sendOpenAiError(
  res: ServerResponse,
  err: OpenAiError,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify(err.toBody());
  res.writeHead(err.status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

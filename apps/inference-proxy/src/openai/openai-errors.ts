import {
  BillingErrorCode,
  ErrorCode,
  InferenceErrorCode,
  SchedulerErrorCode,
  TesseraError,
  isTesseraError,
  isValidationError,
  type OpenAiErrorBody,
} from '@tessera/contracts';

/** Errors the proxy raises on the request path; the HTTP edge maps them in {@link toOpenAiError}. */
export const proxyErrors = {
  invalidApiKey: (message = 'Incorrect API key provided.') =>
    new TesseraError(ErrorCode.Unauthorized, message),
  missingScope: (scope: string) =>
    new TesseraError(ErrorCode.Forbidden, `This API key lacks the "${scope}" scope.`, { details: { scope } }),
  accountBlocked: (status: 'suspended' | 'closed') =>
    new TesseraError(
      status === 'closed' ? BillingErrorCode.AccountClosed : BillingErrorCode.AccountSuspended,
      `This account is ${status}.`,
    ),
  insufficientFunds: () =>
    new TesseraError(
      ErrorCode.InsufficientFunds,
      'You exceeded your current quota: the account has no funds left for this request.',
    ),
  rateLimited: (kind: 'requests' | 'tokens', retryAfterSeconds: number) =>
    new TesseraError(ErrorCode.RateLimited, `Rate limit reached for ${kind} per minute.`, {
      details: { kind, retryAfterSeconds },
    }),
  modelNotFound: (model: string) =>
    new TesseraError(InferenceErrorCode.ModelNotFound, `The model \`${model}\` does not exist.`, {
      details: { param: 'model' },
    }),
  noCapacity: (retryAfterSeconds: number) =>
    new TesseraError(InferenceErrorCode.NoCapacity, 'No instance of this model can take the request now.', {
      details: { retryAfterSeconds },
    }),
  upstreamFailed: (reason: string) =>
    new TesseraError(InferenceErrorCode.UpstreamFailed, `The model's instances failed to answer: ${reason}`),
  bodyTooLarge: () => new TesseraError(InferenceErrorCode.BodyTooLarge, 'The request body is too large.'),
  timeout: () => new TesseraError(InferenceErrorCode.RequestTimeout, 'The request took too long.'),
};

/** What the HTTP edge sends for an error: status, OpenAI's body, extra headers. */
export interface OpenAiErrorReply {
  status: number;
  body: OpenAiErrorBody;
  headers: Record<string, string>;
}

const reply = (
  status: number,
  type: string,
  code: string | null,
  message: string,
  param: string | null = null,
  headers: Record<string, string> = {},
): OpenAiErrorReply => ({ status, body: { error: { message, type, param, code } }, headers });

/**
 * The one mapping of the platform's typed errors to OpenAI's status codes and error shapes, so
 * the official SDKs raise the class a caller expects (`AuthenticationError`, `RateLimitError`, …).
 * Anything unknown is a 500 without detail: internals never reach the client.
 */
export function toOpenAiError(err: unknown): OpenAiErrorReply {
  if (isValidationError(err)) {
    const first = err.issues[0];
    return reply(400, 'invalid_request_error', null, err.message, first ? openAiParam(first.path) : null);
  }
  if (!isTesseraError(err))
    return reply(500, 'server_error', null, 'The server had an error processing your request.');
  const retryAfter = (): Record<string, string> => {
    const seconds = err.details?.['retryAfterSeconds'];
    return typeof seconds === 'number' ? { 'retry-after': String(Math.max(1, Math.ceil(seconds))) } : {};
  };
  switch (err.code) {
    case ErrorCode.Unauthorized:
    case BillingErrorCode.KeyRevoked:
    case BillingErrorCode.KeyExpired:
      return reply(401, 'invalid_request_error', 'invalid_api_key', err.message);
    case ErrorCode.Forbidden:
    case BillingErrorCode.AccountSuspended:
    case BillingErrorCode.AccountClosed:
      return reply(403, 'permission_error', 'permission_denied', err.message);
    case ErrorCode.InsufficientFunds:
      return reply(402, 'insufficient_quota', 'insufficient_quota', err.message);
    case ErrorCode.RateLimited:
      return reply(429, 'requests', 'rate_limit_exceeded', err.message, null, retryAfter());
    case InferenceErrorCode.ModelNotFound:
      return reply(404, 'invalid_request_error', 'model_not_found', err.message, 'model');
    case ErrorCode.NotFound:
      return reply(404, 'invalid_request_error', 'not_found', err.message);
    case SchedulerErrorCode.DeploymentExists:
    case SchedulerErrorCode.NameTaken:
    case SchedulerErrorCode.DeploymentDeleted:
    case ErrorCode.IdempotencyMismatch:
      return reply(409, 'invalid_request_error', 'conflict', err.message);
    case InferenceErrorCode.RouteNotFound:
      return reply(404, 'invalid_request_error', 'unknown_url', err.message);
    case InferenceErrorCode.BodyTooLarge:
      return reply(413, 'invalid_request_error', 'request_too_large', err.message);
    case InferenceErrorCode.NoCapacity:
      return reply(503, 'server_error', 'no_capacity', err.message, null, retryAfter());
    case ErrorCode.Unavailable:
    case ErrorCode.Timeout:
    case ErrorCode.NoResponders:
      return reply(
        503,
        'server_error',
        'service_unavailable',
        'The service is temporarily unavailable.',
        null,
        {
          'retry-after': '1',
        },
      );
    case InferenceErrorCode.UpstreamFailed:
      return reply(502, 'server_error', 'upstream_error', err.message);
    case InferenceErrorCode.RequestTimeout:
      return reply(504, 'server_error', 'timeout', err.message);
    default:
      return reply(500, 'server_error', null, 'The server had an error processing your request.');
  }
}

/** `messages.0.content` (the platform's dotted issue path) in OpenAI's notation: `messages[0].content`. */
export function openAiParam(path: string): string | null {
  if (path === '') return null;
  return path
    .split('.')
    .map((part, index) => (/^[0-9]+$/.test(part) ? `[${part}]` : index === 0 ? part : `.${part}`))
    .join('');
}

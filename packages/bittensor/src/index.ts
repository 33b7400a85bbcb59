export * from './signed-requests/signed-request-errors.js';
export * from './signed-requests/signed-message.js';
export * from './signed-requests/nonce-replay-cache.js';
export * from './signed-requests/signed-request.js';

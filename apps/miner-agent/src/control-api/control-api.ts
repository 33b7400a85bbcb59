import type { IncomingMessage, ServerResponse } from 'node:http';
import type { KeyringPair } from '@polkadot/keyring/types';
import {
  SignedRequestErrorCode,
  isSignedRequestError,
  signReply,
  verifyRequest,
  type AllowedHotkeys,
  type NonceReplayCache,
  type VerifiedRequest,
} from '@tessera/bittensor';
import {
  ErrorCode,
  MinerControlApi,
  MinerErrorCode,
  isTesseraError,
  parseOrThrow,
  type CapacityResponse,
  type ControlErrorResponse,
  type WireError,
} from '@tessera/contracts';
import type { Logger } from 'pino';
import type { GpuInventory } from '../capacity/gpu-inventory.js';
import { BodyTooLargeError, readBody } from '../http/read-body.js';
import type { InstanceManager } from '../instances/instance-manager.js';

const MAX_BODY_BYTES = 1024 * 1024;

/** HTTP status of each code the control API answers with; anything else is a 500. */
const STATUS_OF: Record<string, number> = {
  [ErrorCode.ValidationFailed]: 400,
  [ErrorCode.NotFound]: 404,
  [MinerErrorCode.CapacityExceeded]: 409,
  [MinerErrorCode.InstanceConflict]: 409,
  [MinerErrorCode.EngineUnavailable]: 422,
  [SignedRequestErrorCode.HeaderMissing]: 401,
  [SignedRequestErrorCode.HeaderInvalid]: 401,
  [SignedRequestErrorCode.SignatureInvalid]: 401,
  [SignedRequestErrorCode.NonceExpired]: 401,
  [SignedRequestErrorCode.NonceReplayed]: 401,
  [SignedRequestErrorCode.WrongAddressee]: 401,
  [SignedRequestErrorCode.HotkeyNotAllowed]: 403,
};

/** Options for {@link ControlApi}. */
export interface ControlApiOptions {
  hotkey: KeyringPair;
  allowedHotkeys: AllowedHotkeys;
  replayCache: NonceReplayCache;
  instances: InstanceManager;
  inventory: GpuInventory;
  logger: Logger;
}

interface Answer {
  status: number;
  body: unknown;
}

/**
 * The signed control API (routes from `MinerControlApi` in `@tessera/contracts`). Every request
 * is verified (fiber's scheme: allowed validator hotkey, addressed to this miner, fresh nonce
 * used once, signature over the exact body bytes) before anything else happens, so a refused
 * request changes nothing; every answer to a verified request is signed by the miner.
 */
export class ControlApi {
  constructor(private readonly options: ControlApiOptions) {}

  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    let body: Buffer;
    try {
      body = await readBody(req, MAX_BODY_BYTES);
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      return send(res, 413, errorBody({ code: ErrorCode.ValidationFailed, message: err.message }));
    }

    let verified: VerifiedRequest;
    try {
      verified = await verifyRequest({
        headers: req.headers,
        body,
        ownHotkey: this.options.hotkey.address,
        allowedHotkeys: this.options.allowedHotkeys,
        replayCache: this.options.replayCache,
      });
    } catch (err) {
      if (!isSignedRequestError(err)) throw err;
      this.options.logger.info({ code: err.code, path }, 'refused an unauthenticated control request');
      // Unsigned: there is no verified request to bind a signature to.
      return send(res, STATUS_OF[err.code] ?? 401, errorBody(err.toWire()));
    }

    const answer = await this.answer(req.method ?? 'GET', path, body).catch((err: unknown) =>
      this.failure(err),
    );
    const text = JSON.stringify(answer.body);
    const signature = signReply({ signer: this.options.hotkey, request: verified, body: text });
    send(res, answer.status, text, signature);
  }

  private async answer(method: string, path: string, body: Buffer): Promise<Answer> {
    const { instances } = this.options;
    // One handler per route of the contract's table: the paths the scheduler calls are the ones served.
    const handlers: { [Name in keyof typeof MinerControlApi]: (instanceId: string) => Promise<Answer> } = {
      capacity: async () => ({ status: 200, body: await this.capacity() }),
      listInstances: async () => ({ status: 200, body: { instances: instances.list() } }),
      launchInstance: async () => {
        const request = parseOrThrow(
          MinerControlApi.launchInstance.request,
          parseJson(body),
          'launch request',
        );
        return { status: 202, body: instances.launch(request) };
      },
      getInstance: async (instanceId) => ({ status: 200, body: instances.get(instanceId) }),
      stopInstance: async (instanceId) => ({ status: 200, body: await instances.stop(instanceId) }),
    };
    for (const name of Object.keys(handlers) as (keyof typeof MinerControlApi)[]) {
      const route = MinerControlApi[name];
      const instanceId = route.method === method ? matchPath(route.path, path) : undefined;
      if (instanceId !== undefined) return handlers[name](instanceId);
    }
    return {
      status: 404,
      body: errorBody({ code: ErrorCode.NotFound, message: `no route ${method} ${path}` }),
    };
  }

  private async capacity(): Promise<CapacityResponse> {
    const { inventory, instances } = this.options;
    return {
      minerHotkey: this.options.hotkey.address,
      gpuSource: inventory.kind,
      gpus: await inventory.snapshot(),
      freeGpus: inventory.free,
      engines: instances.engineNames,
      instancesRunning: instances.running,
      maxInstances: instances.maxInstances,
    };
  }

  private failure(err: unknown): Answer {
    if (isTesseraError(err)) return { status: STATUS_OF[err.code] ?? 500, body: errorBody(err.toWire()) };
    this.options.logger.error({ err }, 'control request failed');
    return { status: 500, body: errorBody({ code: ErrorCode.Internal, message: 'internal error' }) };
  }
}

/** The `:instanceId` of `path` under `pattern` ('' for a route without one), or undefined when it does not match. */
function matchPath(pattern: string, path: string): string | undefined {
  if (!pattern.includes(':instanceId')) return pattern === path ? '' : undefined;
  const [prefix = ''] = pattern.split(':instanceId');
  const rest = path.startsWith(prefix) ? path.slice(prefix.length) : '';
  return rest !== '' && !rest.includes('/') ? rest : undefined;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    // parseOrThrow then names the root as what is wrong.
    return undefined;
  }
}

function errorBody(error: WireError): ControlErrorResponse {
  return { error };
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

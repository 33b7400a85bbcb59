import type { KeyringPair } from '@polkadot/keyring/types';
import { signRequest, verifyReply } from '@tessera/bittensor';
import {
  MinerControlApi,
  TesseraError,
  controlErrorResponseSchema,
  isTesseraError,
  minerControlPath,
  type CapacityResponse,
  type InstanceListResponse,
  type InstanceStatus,
  type LaunchInstance,
  type MinerControlRoute,
} from '@tessera/contracts';
import { type z } from 'zod';

/** Errors of talking to a miner that are not the miner's own answer. */
export const MinerClientErrorCode = {
  /** No answer: connection refused, reset, or the request timed out. */
  Unreachable: 'scheduler.MINER_UNREACHABLE',
  /** An answer that is not signed by the miner, or not what the control API promises. */
  BadReply: 'scheduler.MINER_BAD_REPLY',
} as const;

/** True when a miner could not be reached at all (as opposed to answering with a refusal). */
export function isMinerUnreachable(err: unknown): boolean {
  return isTesseraError(err, MinerClientErrorCode.Unreachable);
}

/**
 * True when nothing accepted the connection at all (ECONNREFUSED): the miner-agent process that
 * serves the address is gone, as opposed to a slow or broken answer.
 */
export function isConnectionRefused(err: unknown): boolean {
  if (!isMinerUnreachable(err)) return false;
  let cause: unknown = (err as Error).cause;
  for (let depth = 0; depth < 3 && cause instanceof Error; depth++) {
    if ((cause as NodeJS.ErrnoException).code === 'ECONNREFUSED') return true;
    cause = cause.cause;
  }
  return false;
}

/** Where a miner is: its hotkey (replies must be signed by it) and base URL. */
export interface MinerAddress {
  readonly hotkey: string;
  readonly baseUrl: string;
}

/**
 * The validator's side of the miners' signed control API: each request is signed with the
 * validator hotkey for one miner, each reply must be signed by that miner and echo the request's
 * nonce, and every body is checked against the control API's schemas. A refusal comes back as a
 * `TesseraError` with the miner's code (`miner.CAPACITY_EXCEEDED`, …).
 */
export class MinerClient {
  constructor(
    private readonly validator: KeyringPair,
    private readonly options: { timeoutMs: number },
  ) {}

  /** The validator hotkey requests are signed with. */
  get validatorHotkey(): string {
    return this.validator.address;
  }

  capacity(miner: MinerAddress): Promise<CapacityResponse> {
    return this.send(miner, MinerControlApi.capacity);
  }

  instances(miner: MinerAddress): Promise<InstanceListResponse> {
    return this.send(miner, MinerControlApi.listInstances);
  }

  launch(miner: MinerAddress, launch: LaunchInstance): Promise<InstanceStatus> {
    return this.send(miner, MinerControlApi.launchInstance, { body: launch });
  }

  instance(miner: MinerAddress, instanceId: string): Promise<InstanceStatus> {
    return this.send(miner, MinerControlApi.getInstance, { instanceId });
  }

  stop(miner: MinerAddress, instanceId: string): Promise<InstanceStatus> {
    return this.send(miner, MinerControlApi.stopInstance, { instanceId });
  }

  /**
   * One health check of an instance's data plane: `GET <endpoint>/models` with its token must
   * answer 200. Throws otherwise.
   */
  async checkDataPlane(endpoint: string, token: string): Promise<void> {
    let response: Response;
    try {
      response = await fetch(`${endpoint}/models`, {
        headers: { authorization: `Bearer ${token}` },
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (err) {
      throw unreachable(endpoint, err);
    }
    await response.body?.cancel();
    if (response.status !== 200) {
      throw new TesseraError(
        MinerClientErrorCode.BadReply,
        `${endpoint}/models answered ${response.status}`,
        {
          details: { status: response.status },
        },
      );
    }
  }

  private async send<Response_ extends z.ZodType>(
    miner: MinerAddress,
    route: MinerControlRoute<z.ZodType | undefined, Response_>,
    options: { body?: unknown; instanceId?: string } = {},
  ): Promise<z.output<Response_>> {
    const path = minerControlPath(route, options.instanceId);
    const body = options.body === undefined ? '' : JSON.stringify(options.body);
    const headers = signRequest({ signer: this.validator, minerHotkey: miner.hotkey, body });
    let response: Response;
    let text: string;
    try {
      response = await fetch(`${miner.baseUrl}${path}`, {
        method: route.method,
        headers: { ...headers, ...(body === '' ? {} : { 'content-type': 'application/json' }) },
        ...(body === '' ? {} : { body }),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      text = await response.text();
    } catch (err) {
      throw unreachable(`${route.method} ${miner.baseUrl}${path}`, err);
    }
    const what = `${route.method} ${path} on ${miner.hotkey}`;
    if ((response.status === 401 || response.status === 403) && !response.headers.has('signature')) {
      // The miner refused to authenticate us (e.g. our hotkey is not on its allow-list); it
      // cannot sign for a request it did not accept, so this answer is unsigned.
      throw new TesseraError(
        refusalCode(text) ?? MinerClientErrorCode.BadReply,
        `${what}: refused (${response.status})`,
        {
          details: { status: response.status, signed: false },
        },
      );
    }
    try {
      await verifyReply({ headers: response.headers, body: text, request: headers });
    } catch (err) {
      throw new TesseraError(
        MinerClientErrorCode.BadReply,
        `${what}: reply not signed by the miner (${response.status})`,
        {
          details: { status: response.status },
          cause: err,
        },
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new TesseraError(MinerClientErrorCode.BadReply, `${what}: reply is not JSON`, { cause: err });
    }
    if (!response.ok) {
      const refusal = controlErrorResponseSchema.safeParse(parsed);
      if (!refusal.success) {
        throw new TesseraError(
          MinerClientErrorCode.BadReply,
          `${what}: ${response.status} without an error body`,
        );
      }
      throw new TesseraError(refusal.data.error.code, `${what}: ${refusal.data.error.message}`, {
        details: { status: response.status },
      });
    }
    const result = route.response.safeParse(parsed);
    if (!result.success) {
      throw new TesseraError(MinerClientErrorCode.BadReply, `${what}: reply does not match the control API`, {
        details: { issues: result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`) },
      });
    }
    return result.data;
  }
}

function refusalCode(text: string): string | undefined {
  try {
    const refusal = controlErrorResponseSchema.safeParse(JSON.parse(text));
    return refusal.success ? refusal.data.error.code : undefined;
  } catch {
    return undefined;
  }
}

function unreachable(what: string, err: unknown): TesseraError {
  const reason =
    err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
  return new TesseraError(MinerClientErrorCode.Unreachable, `${what}: ${reason}`, { cause: err });
}

import { ErrorCode, MinerErrorCode, TesseraError, isTesseraError } from '@tessera/contracts';

/** The control API's refusals, built in one place so each carries the same details. */
export const minerErrors = {
  capacityExceeded: (reason: string, details: Record<string, unknown>) =>
    new TesseraError(MinerErrorCode.CapacityExceeded, reason, { details }),
  instanceConflict: (instanceId: string) =>
    new TesseraError(
      MinerErrorCode.InstanceConflict,
      `instance ${instanceId} exists with a different launch request`,
      { details: { instanceId } },
    ),
  engineUnavailable: (engine: string, offered: readonly string[]) =>
    new TesseraError(MinerErrorCode.EngineUnavailable, `this miner does not offer the ${engine} engine`, {
      details: { engine, offered },
    }),
  instanceNotFound: (instanceId: string) =>
    new TesseraError(ErrorCode.NotFound, `no instance ${instanceId} on this miner`, {
      details: { instanceId },
    }),
};

export const isCapacityExceeded = (err: unknown): err is TesseraError =>
  isTesseraError(err, MinerErrorCode.CapacityExceeded);
export const isInstanceConflict = (err: unknown): err is TesseraError =>
  isTesseraError(err, MinerErrorCode.InstanceConflict);
export const isEngineUnavailable = (err: unknown): err is TesseraError =>
  isTesseraError(err, MinerErrorCode.EngineUnavailable);

import { z } from 'zod';
import { type EventContract } from './define-event.js';
import { type RpcContract } from './define-rpc.js';

/** The JSON Schema of every contract, keyed `event:<type>@<version>` and `rpc:<subject>`. */
export type ContractSnapshot = Record<string, unknown>;

/**
 * Renders contracts as JSON Schema (the wire form, i.e. the schemas' input side).
 * The committed snapshot makes every contract change visible in review.
 */
export function buildContractSnapshot(
  events: readonly EventContract[],
  rpcs: readonly RpcContract[],
): ContractSnapshot {
  const snapshot: ContractSnapshot = {};
  const toJson = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
  for (const contract of [...events].sort((a, b) => keyOfEvent(a).localeCompare(keyOfEvent(b)))) {
    snapshot[`event:${keyOfEvent(contract)}`] = toJson(contract.envelope);
  }
  for (const contract of [...rpcs].sort((a, b) => a.subject.localeCompare(b.subject))) {
    snapshot[`rpc:${contract.subject}`] = {
      request: toJson(contract.request),
      response: toJson(contract.response),
      errors: [...contract.errors].sort(),
    };
  }
  return snapshot;
}

function keyOfEvent(contract: EventContract): string {
  return `${contract.type}@${contract.version}`;
}

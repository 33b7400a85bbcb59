import { z } from 'zod';

/**
 * The miner-agent's data plane: each instance's OpenAI-compatible API under
 * `/instances/<instanceId>/v1/…`, authorised by `Authorization: Bearer <dataPlaneToken>` (the
 * token handed over in the signed launch). No public-key cryptography on this path.
 */
export function minerDataPlaneBasePath(instanceId: string): string {
  return `/instances/${encodeURIComponent(instanceId)}/v1`;
}

/** Errors on the data plane, in OpenAI's shape, so OpenAI clients surface them as usual. */
export const openAiErrorResponseSchema = z.object({
  error: z.object({
    message: z.string(),
    type: z.string(),
    param: z.string().nullable(),
    code: z.string().nullable(),
  }),
});
export type OpenAiErrorResponse = z.infer<typeof openAiErrorResponseSchema>;

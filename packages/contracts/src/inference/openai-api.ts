import { z } from 'zod';

/*
 * The OpenAI API as Tessera serves it at `/v1` (chat, completions, embeddings, models). Request
 * schemas check what the proxy acts on — routing, money, limits, streaming — and pass every
 * other field through to the engine untouched (loose objects), so SDK features the proxy does not
 * know still reach the miner. Wire names are OpenAI's (snake_case).
 */

/** Most tokens one request may ask for: bounds every reservation. */
export const MAX_COMPLETION_TOKENS = 1_000_000;

const modelFieldSchema = z.string().min(1).max(200).describe('The deployment name (see `GET /v1/models`).');

const maxTokensSchema = z.int().min(1).max(MAX_COMPLETION_TOKENS).nullish();

const streamOptionsSchema = z
  .looseObject({
    /** Whether the last chunk carries `usage` (the proxy always asks the engine for it). */
    include_usage: z.boolean().nullish(),
  })
  .nullish();

const samplingFields = {
  model: modelFieldSchema,
  stream: z.boolean().nullish(),
  stream_options: streamOptionsSchema,
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  n: z.int().min(1).max(128).nullish(),
  seed: z.int().nullish(),
  stop: z.union([z.string().max(1000), z.array(z.string().max(1000)).max(4)]).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  user: z.string().max(1000).nullish(),
};

/** A content part of a chat message (`{type: "text", text}`, images, audio…): passed through. */
export const chatContentPartSchema = z.looseObject({ type: z.string().min(1).max(100) });

export const chatMessageSchema = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(chatContentPartSchema).max(1_000)]).nullish(),
  name: z.string().max(256).nullish(),
});
export type ChatMessage = z.infer<typeof chatMessageSchema>;

/** `POST /v1/chat/completions`. */
export const chatCompletionRequestSchema = z.looseObject({
  ...samplingFields,
  messages: z.array(chatMessageSchema).min(1).max(10_000),
  /** Deprecated by OpenAI in favour of `max_completion_tokens`; both are honoured. */
  max_tokens: maxTokensSchema,
  max_completion_tokens: maxTokensSchema,
});
export type ChatCompletionRequest = z.infer<typeof chatCompletionRequestSchema>;

const tokenArraySchema = z.array(z.int().nonnegative()).max(1_000_000);

/** `POST /v1/completions`. */
export const completionRequestSchema = z.looseObject({
  ...samplingFields,
  prompt: z.union([
    z.string(),
    z.array(z.string()).min(1).max(2_048),
    tokenArraySchema.min(1),
    z.array(tokenArraySchema.min(1)).min(1).max(2_048),
  ]),
  /** OpenAI's default for completions is 16. */
  max_tokens: maxTokensSchema,
  echo: z.boolean().nullish(),
});
export type CompletionRequest = z.infer<typeof completionRequestSchema>;

/** `POST /v1/embeddings`. */
export const embeddingRequestSchema = z.looseObject({
  model: modelFieldSchema,
  input: z.union([
    z.string().min(1),
    z.array(z.string()).min(1).max(2_048),
    tokenArraySchema.min(1),
    z.array(tokenArraySchema.min(1)).min(1).max(2_048),
  ]),
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.int().min(1).max(100_000).nullish(),
  user: z.string().max(1000).nullish(),
});
export type EmbeddingRequest = z.infer<typeof embeddingRequestSchema>;

/** Token counts as OpenAI reports them. */
export const usageSchema = z.looseObject({
  prompt_tokens: z.int().nonnegative(),
  completion_tokens: z.int().nonnegative().optional(),
  total_tokens: z.int().nonnegative(),
});
export type OpenAiUsage = z.infer<typeof usageSchema>;

/** A chat completion (non-streamed answer). */
export const chatCompletionSchema = z.looseObject({
  id: z.string(),
  object: z.literal('chat.completion'),
  created: z.int(),
  model: z.string(),
  choices: z.array(
    z.looseObject({
      index: z.int().nonnegative(),
      message: z.looseObject({ role: z.string(), content: z.string().nullable() }),
      finish_reason: z.string().nullable(),
    }),
  ),
  usage: usageSchema.optional(),
});

/** One SSE `data:` chunk of a streamed chat completion; the last one carries `usage` when asked for. */
export const chatCompletionChunkSchema = z.looseObject({
  id: z.string(),
  object: z.literal('chat.completion.chunk'),
  created: z.int(),
  model: z.string(),
  choices: z.array(
    z.looseObject({
      index: z.int().nonnegative(),
      delta: z.looseObject({ role: z.string().optional(), content: z.string().nullish() }),
      finish_reason: z.string().nullable(),
    }),
  ),
  usage: usageSchema.nullish(),
});

/** A text completion (also the shape of each streamed chunk). */
export const completionSchema = z.looseObject({
  id: z.string(),
  object: z.literal('text_completion'),
  created: z.int(),
  model: z.string(),
  choices: z.array(
    z.looseObject({ index: z.int().nonnegative(), text: z.string(), finish_reason: z.string().nullable() }),
  ),
  usage: usageSchema.nullish(),
});

export const embeddingResponseSchema = z.looseObject({
  object: z.literal('list'),
  model: z.string(),
  data: z.array(
    z.looseObject({
      object: z.literal('embedding'),
      index: z.int().nonnegative(),
      embedding: z.union([z.array(z.number()), z.string()]),
    }),
  ),
  usage: usageSchema,
});

/** `GET /v1/models/{model}`: a deployment the key may call. */
export const modelObjectSchema = z.object({
  id: z.string(),
  object: z.literal('model'),
  /** Unix seconds the deployment was created. */
  created: z.int(),
  /** `tessera` for public deployments, the owning account for private ones. */
  owned_by: z.string(),
});
export type ModelObject = z.infer<typeof modelObjectSchema>;

/** `GET /v1/models`. */
export const modelListSchema = z.object({ object: z.literal('list'), data: z.array(modelObjectSchema) });

/** Every error the public API answers, in OpenAI's shape (the SDKs read `error.code` and `error.param`). */
export const openAiErrorBodySchema = z.object({
  error: z.object({
    message: z.string(),
    /** `invalid_request_error`, `authentication_error`, `permission_error`, `rate_limit_error`, … */
    type: z.string(),
    /** The request field at fault, OpenAI's notation (`messages[0].content`); null when none. */
    param: z.string().nullable(),
    /** Stable code: `invalid_api_key`, `insufficient_quota`, `rate_limit_exceeded`, `model_not_found`, … */
    code: z.string().nullable(),
  }),
});
export type OpenAiErrorBody = z.infer<typeof openAiErrorBodySchema>;

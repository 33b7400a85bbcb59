import { z } from 'zod';

/**
 * The parts of OpenAI's request bodies the llama engine acts on. Other fields are accepted and
 * ignored (clients send many; refusing them would break SDKs), except those whose meaning the
 * engine cannot honour (`n` > 1, `echo`, `logprobs`), which are refused naming the field.
 */

const stopSchema = z.union([z.string().min(1), z.array(z.string().min(1)).max(4)]).nullish();

const samplingFields = {
  model: z.string().min(1),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  /** Same seed, same temperature, same file → same output (probes rely on it). */
  seed: z.int().min(0).max(0xffffffff).nullish(),
  stop: stopSchema,
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  n: z.literal(1, { error: 'only n=1 is supported' }).nullish(),
};

const textPartSchema = z.object({ type: z.literal('text'), text: z.string() });

const messageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(textPartSchema)]).nullish(),
});

export const chatCompletionRequestSchema = z.looseObject({
  ...samplingFields,
  messages: z.array(messageSchema).min(1),
  max_tokens: z.int().positive().nullish(),
  max_completion_tokens: z.int().positive().nullish(),
  logprobs: z.literal(false, { error: 'logprobs are not supported' }).nullish(),
});
export type ChatCompletionRequest = z.output<typeof chatCompletionRequestSchema>;
export type ChatMessage = z.output<typeof messageSchema>;

export const completionRequestSchema = z.looseObject({
  ...samplingFields,
  prompt: z.union([z.string(), z.array(z.string()).length(1, 'only one prompt per request is supported')]),
  /** OpenAI's default for completions. */
  max_tokens: z.int().positive().default(16),
  echo: z.literal(false, { error: 'echo is not supported' }).nullish(),
  logprobs: z.null({ error: 'logprobs are not supported' }).optional(),
});
export type CompletionRequest = z.output<typeof completionRequestSchema>;

export const embeddingRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1).max(2048)]),
  encoding_format: z.enum(['float', 'base64']).default('float'),
});
export type EmbeddingRequest = z.output<typeof embeddingRequestSchema>;

/** Token usage as OpenAI reports it. */
export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usageOf(promptTokens: number, completionTokens: number): Usage {
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completionTokens,
    total_tokens: promptTokens + completionTokens,
  };
}

/** The text of a message's content, whether a string or text parts. */
export function messageText(message: ChatMessage): string {
  if (typeof message.content === 'string') return message.content;
  return (message.content ?? []).map((part) => part.text).join('');
}

/** `stop` as a list. */
export function stopStrings(stop: string | string[] | null | undefined): string[] {
  if (stop === null || stop === undefined) return [];
  return typeof stop === 'string' ? [stop] : stop;
}

import { countTokens } from 'gpt-tokenizer';
import {
  type ChatCompletionRequest,
  type CompletionRequest,
  type EmbeddingRequest,
} from '@tessera/contracts';

/** Where a request's prompt is: chat messages, a completion prompt or embedding input. */
export interface PromptSource {
  messages?: ChatCompletionRequest['messages'];
  prompt?: CompletionRequest['prompt'];
  input?: EmbeddingRequest['input'];
}

/** Template tokens an engine may add per chat message (role markers) and per prompt (BOS, assistant header). */
const PER_MESSAGE_OVERHEAD = 8;
const PER_PROMPT_OVERHEAD = 16;

/** The text of a message's content (string or text parts). */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content as unknown[]) {
    if (typeof part === 'object' && part !== null && typeof (part as { text?: unknown }).text === 'string') {
      text += (part as { text: string }).text;
    }
  }
  return text;
}

function promptTexts(prompt: CompletionRequest['prompt'] | EmbeddingRequest['input']): {
  texts: string[];
  tokens: number;
} {
  if (typeof prompt === 'string') return { texts: [prompt], tokens: 0 };
  const texts: string[] = [];
  let tokens = 0;
  for (const item of prompt) {
    if (typeof item === 'string') texts.push(item);
    else if (typeof item === 'number') tokens++;
    else tokens += item.length;
  }
  return { texts, tokens };
}

/**
 * An upper bound of the prompt's tokens without running a tokenizer: no tokenizer makes more
 * tokens than the text has UTF-8 bytes (byte fallback is the worst case), plus template tokens.
 * It is what reservations use, so a reservation always covers the prompt whatever the engine's tokenizer.
 */
export function promptTokenBound(request: PromptSource): number {
  if (request.messages) {
    let bytes = PER_PROMPT_OVERHEAD;
    for (const message of request.messages) {
      bytes += Buffer.byteLength(contentText(message.content), 'utf8') + PER_MESSAGE_OVERHEAD;
    }
    return bytes;
  }
  const source = request.prompt ?? request.input;
  if (source === undefined) return PER_PROMPT_OVERHEAD;
  const { texts, tokens } = promptTexts(source);
  let bytes = PER_PROMPT_OVERHEAD + tokens;
  for (const text of texts) bytes += Buffer.byteLength(text, 'utf8');
  return bytes;
}

/** The proxy's own count of a prompt (for engines that report no usage, and the 10× check). */
export function countPromptTokens(request: PromptSource): number {
  if (request.messages) {
    let tokens = 0;
    for (const message of request.messages) tokens += countTokens(contentText(message.content)) + 4;
    return tokens + 3;
  }
  const source = request.prompt ?? request.input;
  if (source === undefined) return 0;
  const { texts, tokens } = promptTexts(source);
  let total = tokens;
  for (const text of texts) total += countTokens(text);
  return total;
}

/** The proxy's own count of generated text. */
export function countTextTokens(text: string): number {
  return text === '' ? 0 : countTokens(text);
}

/**
 * What a request is metered at: the engine's usage, unless it claims more than 10× the proxy's
 * own count (then the count: a miner must not inflate bills), or reports nothing (the count).
 */
export function meteredTokens(claimed: number | undefined, counted: number): number {
  if (claimed === undefined) return counted;
  if (claimed > Math.max(counted, 1) * 10) return counted;
  return claimed;
}

import {
  LlamaText,
  resolveChatWrapper,
  type ChatHistoryItem,
  type ChatWrapper,
  type Llama,
  type LlamaContext,
  type LlamaContextSequence,
  type LlamaEmbeddingContext,
  type LlamaModel,
  type Token,
} from 'node-llama-cpp';
import { GeneratedText } from './generated-text.js';
import { messageText, type ChatMessage } from './openai-schemas.js';

/** Options for {@link LlamaModelHost.load}. */
export interface LlamaModelHostOptions {
  llama: Llama;
  modelPath: string;
  /** Requests generated at once; each has its own context (see {@link LlamaModelHost}). */
  concurrency: number;
  /** Tokens of context per request; default the model's training context, at most `maxContextSize`. */
  contextSize?: number;
  maxContextSize: number;
  /** Requests that may wait for a slot before new ones are refused as busy. */
  maxQueued: number;
  threads: number;
}

/** What to generate: tokens in, sampling settings, stop strings. */
export interface GenerationInput {
  promptTokens: Token[];
  maxTokens: number | undefined;
  temperature: number;
  topP: number | undefined;
  seed: number | undefined;
  stops: string[];
}

export interface GenerationResult {
  completionTokens: number;
  finishReason: 'stop' | 'length';
}

/** The prompt of a chat, rendered with the model's own chat template. */
export interface RenderedChat {
  tokens: Token[];
  /** Text the template ends a turn with (the reply stops before it). */
  stops: string[];
}

/** Every slot is taken and the queue is full. */
export class EngineBusyError extends Error {
  override readonly name = 'EngineBusyError';
}

/** The prompt does not fit into a request's context. */
export class ContextLengthError extends Error {
  override readonly name = 'ContextLengthError';
  constructor(
    readonly promptTokens: number,
    readonly contextSize: number,
  ) {
    super(`prompt of ${promptTokens} tokens does not fit a context of ${contextSize}`);
  }
}

interface Slot {
  context: LlamaContext;
  sequence: LlamaContextSequence;
}

/**
 * One GGUF model loaded in llama.cpp, serving generations and embeddings.
 *
 * Each concurrent request gets a context of its own, and each generation starts from an empty
 * one: then a request's tokens are computed in the same batches whatever else runs, so
 * temperature 0 (or the same seed) gives identical output on every instance of the same file —
 * the inference probes compare replicas on exactly that. (Sequences sharing a context are
 * batched together, and llama.cpp may then pick other kernels with another rounding.)
 */
export class LlamaModelHost {
  private readonly free: Slot[];
  private readonly waiting: ((slot: Slot) => void)[] = [];
  private embeddingContext: Promise<LlamaEmbeddingContext> | undefined;
  private embeddings: Promise<unknown> = Promise.resolve();
  private readonly chatWrapper: ChatWrapper;

  private constructor(
    readonly model: LlamaModel,
    private readonly slots: Slot[],
    readonly contextSize: number,
    private readonly options: LlamaModelHostOptions,
  ) {
    this.free = [...slots];
    this.chatWrapper = resolveChatWrapper(model);
  }

  static async load(options: LlamaModelHostOptions): Promise<LlamaModelHost> {
    const model = await options.llama.loadModel({ modelPath: options.modelPath });
    try {
      const contextSize = Math.min(options.contextSize ?? model.trainContextSize, options.maxContextSize);
      const slots: Slot[] = [];
      for (let i = 0; i < options.concurrency; i++) {
        const context = await model.createContext({ contextSize, sequences: 1, threads: options.threads });
        slots.push({ context, sequence: context.getSequence() });
      }
      return new LlamaModelHost(model, slots, contextSize, options);
    } catch (err) {
      await model.dispose();
      throw err;
    }
  }

  /** A plain-text prompt as the model reads it: with its beginning-of-sequence token when it wants one. */
  tokenizePrompt(text: string): Token[] {
    const bos = this.model.tokens.shouldPrependBosToken ? this.model.tokens.bos : null;
    const tokens = this.model.tokenize(text);
    return bos === null ? tokens : [bos, ...tokens];
  }

  /** Renders a chat with the model's template (GGUF `tokenizer.chat_template`, or a general one). */
  renderChat(messages: readonly ChatMessage[]): RenderedChat {
    const history: ChatHistoryItem[] = messages.map((message): ChatHistoryItem => {
      const text = messageText(message);
      switch (message.role) {
        case 'system':
        case 'developer':
          return { type: 'system', text };
        case 'assistant':
          return { type: 'model', response: [text] };
        case 'user':
        case 'tool':
          return { type: 'user', text };
      }
    });
    history.push({ type: 'model', response: [] });
    const state = this.chatWrapper.generateContextState({ chatHistory: history });
    const stops = state.stopGenerationTriggers
      .map((trigger) => LlamaText(trigger))
      .filter((trigger) => trigger.values.every((value) => typeof value === 'string'))
      .map((trigger) => trigger.toString())
      .filter((text) => text.length > 0);
    return { tokens: state.contextText.tokenize(this.model.tokenizer), stops };
  }

  /**
   * Generates from `input`, handing each piece of text to `onText` and waiting for it before the
   * next token: a slow reader slows generation instead of piling text up in memory.
   */
  async generate(
    input: GenerationInput,
    onText: (text: string) => Promise<void>,
    signal: AbortSignal,
  ): Promise<GenerationResult> {
    const room = this.contextSize - input.promptTokens.length;
    if (room < 1) throw new ContextLengthError(input.promptTokens.length, this.contextSize);
    // Never past the context: llama.cpp would shift it, and the output would depend on that.
    const maxTokens = Math.min(input.maxTokens ?? room, room);
    const slot = await this.acquire();
    try {
      // The client may have left while it waited for the slot.
      if (signal.aborted) return { completionTokens: 0, finishReason: 'stop' };
      await slot.sequence.clearHistory();
      const text = new GeneratedText(
        (tokens, lastTokens) => this.model.detokenize(tokens as Token[], false, lastTokens as Token[]),
        input.stops,
        input.promptTokens,
      );
      let completionTokens = 0;
      let finishReason: GenerationResult['finishReason'] = 'stop';
      const tokens = slot.sequence.evaluate(input.promptTokens, {
        temperature: input.temperature,
        ...(input.topP === undefined ? {} : { topP: input.topP }),
        // Without a seed node-llama-cpp seeds from the clock; greedy decoding ignores it.
        ...(input.seed === undefined ? {} : { seed: input.seed }),
      });
      for await (const token of tokens) {
        if (signal.aborted) break;
        completionTokens++;
        const step = text.push(token);
        if (step.text !== '') await onText(step.text);
        if (step.stopped) break;
        if (completionTokens >= maxTokens) {
          finishReason = 'length';
          break;
        }
      }
      const rest = text.finish();
      if (rest !== '' && !signal.aborted) await onText(rest);
      return { completionTokens, finishReason };
    } finally {
      this.release(slot);
    }
  }

  /** One embedding per input, and the tokens they took. Embeddings run one at a time. */
  async embed(inputs: readonly string[]): Promise<{ vectors: number[][]; promptTokens: number }> {
    const run = this.embeddings.then(async () => {
      this.embeddingContext ??= this.model.createEmbeddingContext({
        contextSize: this.contextSize,
        threads: this.options.threads,
      });
      const context = await this.embeddingContext;
      const vectors: number[][] = [];
      let promptTokens = 0;
      for (const input of inputs) {
        const tokens = this.tokenizePrompt(input);
        if (tokens.length > this.contextSize) throw new ContextLengthError(tokens.length, this.contextSize);
        promptTokens += tokens.length;
        vectors.push([...(await context.getEmbeddingFor(tokens)).vector]);
      }
      return { vectors, promptTokens };
    });
    this.embeddings = run.catch(() => undefined);
    return run;
  }

  async dispose(): Promise<void> {
    const embedding = this.embeddingContext;
    this.embeddingContext = undefined;
    if (embedding) await (await embedding.catch(() => undefined))?.dispose();
    for (const slot of this.slots) await slot.context.dispose();
    await this.model.dispose();
  }

  private acquire(): Promise<Slot> {
    const slot = this.free.pop();
    if (slot) return Promise.resolve(slot);
    if (this.waiting.length >= this.options.maxQueued) return Promise.reject(new EngineBusyError('busy'));
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(slot: Slot): void {
    const next = this.waiting.shift();
    if (next) next(slot);
    else this.free.push(slot);
  }
}

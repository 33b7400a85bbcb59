import { getLlama, LlamaLogLevel, type Llama, type LlamaModel, type Token } from 'node-llama-cpp';

/** Nineteen's rule: a token ranked at or beyond this by the reference is a miss. */
export const RANK_LIMIT = 10;

/**
 * A copy of a deployment's GGUF that the proxy controls: it judges what a miner returned by the
 * rank of each returned token in its own next-token distribution (node-llama-cpp token
 * probabilities, the counterpart of vLLM's `prompt_logprobs` Nineteen's validators use).
 */
export class ReferenceModel {
  private constructor(
    private readonly model: LlamaModel,
    private readonly queue: { tail: Promise<unknown> },
  ) {}

  static async load(llama: Llama, modelPath: string): Promise<ReferenceModel> {
    return new ReferenceModel(await llama.loadModel({ modelPath }), { tail: Promise.resolve() });
  }

  /** One CPU runtime for every reference model; one thread, as llama.cpp busy-waits with more. */
  static runtime(): Promise<Llama> {
    return getLlama({ gpu: false, build: 'never', maxThreads: 1, logLevel: LlamaLogLevel.error });
  }

  /** How many steps of `completion` fall outside the reference's top {@link RANK_LIMIT} after `prompt`. */
  rankMisses(prompt: string, completion: string): Promise<{ tokens: number; misses: number }> {
    // One evaluation at a time: probes are background work and must not crowd the CPU.
    const run = this.queue.tail.then(() => this.evaluate(prompt, completion));
    this.queue.tail = run.catch(() => undefined);
    return run;
  }

  /**
   * Walks the completion text with the reference: at each step the next piece of text must be
   * the text of one of the reference's top-{@link RANK_LIMIT} tokens (the best ranked that fits). Following the text rather
   * than a re-tokenization of it keeps an honest answer from missing only because the engine cut
   * the same text into other tokens. A piece no top token matches is a miss, and the walk goes on
   * with the reference's own tokenization of the rest.
   */
  private async evaluate(prompt: string, completion: string): Promise<{ tokens: number; misses: number }> {
    const bos = this.model.tokens.shouldPrependBosToken ? this.model.tokens.bos : null;
    const history: Token[] = [...(bos === null ? [] : [bos]), ...this.model.tokenize(prompt)];
    if (completion === '') return { tokens: 0, misses: 0 };
    const bound = history.length + this.model.tokenize(completion).length * 2 + 16;
    const context = await this.model.createContext({
      contextSize: Math.max(64, bound),
      sequences: 1,
      threads: 1,
    });
    try {
      const sequence = context.getSequence();
      const withNext = (token: Token): [Token, { generateNext: { probabilities: true } }] => [
        token,
        { generateNext: { probabilities: true } },
      ];
      let results = await sequence.controlledEvaluate([...history.slice(0, -1), withNext(history.at(-1)!)]);
      let probabilities = results.at(-1)?.next.probabilities;
      let rest = completion;
      let tokens = 0;
      let misses = 0;
      while (rest !== '' && tokens < bound) {
        let chosen: { token: Token; text: string } | undefined;
        let rank = 0;
        // The best-ranked top token the text goes on with: a probe decodes greedily (temperature
        // 0), so an honest engine took the reference's own choice, and taking a longer but lower
        // ranked token instead would lead the walk off the engine's path (and into misses).
        for (const token of probabilities?.keys() ?? []) {
          if (rank++ >= RANK_LIMIT) break;
          const text = this.model.detokenize([token], false, history);
          if (text !== '' && rest.startsWith(text)) {
            chosen = { token, text };
            break;
          }
        }
        if (!chosen) {
          misses++;
          const own = this.model.tokenize(rest)[0];
          if (own === undefined) break;
          const text = this.model.detokenize([own], false, history);
          chosen = { token: own, text: text === '' ? rest.slice(0, 1) : text };
        }
        tokens++;
        rest = rest.startsWith(chosen.text) ? rest.slice(chosen.text.length) : rest.slice(1);
        history.push(chosen.token);
        results = await sequence.controlledEvaluate([withNext(chosen.token)]);
        probabilities = results.at(-1)?.next.probabilities;
      }
      return { tokens, misses };
    } finally {
      await context.dispose();
    }
  }

  dispose(): Promise<void> {
    return this.model.dispose();
  }
}

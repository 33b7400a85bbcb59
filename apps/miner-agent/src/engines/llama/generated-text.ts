/** Turns tokens back into text, given the tokens before them (SentencePiece spacing depends on them). */
export type Detokenize = (tokens: readonly number[], lastTokens: readonly number[]) => string;

/** What one more token changed: the text that may be sent now, and whether a stop string ended it. */
export interface TextStep {
  text: string;
  stopped: boolean;
}

/** A character may take up to 4 byte tokens; hold them until they decode. */
const MAX_PENDING_TOKENS = 4;
/** Tokens of context handed to the detokenizer. */
const CONTEXT_TOKENS = 8;

/**
 * Assembles generated tokens into text that is safe to stream: a character split over byte
 * tokens is held until it is whole (no U+FFFD mid-stream), and text that could be the start of
 * a stop string is held until it either completes the stop string (generation ends before it,
 * as OpenAI's `stop` does) or turns out not to.
 */
export class GeneratedText {
  private pending: number[] = [];
  private context: number[];
  private held = '';
  private finished = false;

  constructor(
    private readonly detokenize: Detokenize,
    private readonly stops: readonly string[],
    promptTokens: readonly number[],
  ) {
    this.context = promptTokens.slice(-CONTEXT_TOKENS);
  }

  push(token: number): TextStep {
    if (this.finished) return { text: '', stopped: true };
    this.pending.push(token);
    const decoded = this.detokenize(this.pending, this.context);
    if (decoded.endsWith('\uFFFD') && this.pending.length < MAX_PENDING_TOKENS)
      return { text: '', stopped: false };
    this.context = [...this.context, ...this.pending].slice(-CONTEXT_TOKENS);
    this.pending = [];
    this.held += decoded;
    return this.release();
  }

  /** The rest of the text once generation ended without a stop string. */
  finish(): string {
    if (this.finished) return '';
    this.finished = true;
    const rest = this.held + (this.pending.length > 0 ? this.detokenize(this.pending, this.context) : '');
    this.held = '';
    this.pending = [];
    return rest;
  }

  private release(): TextStep {
    let stopAt = -1;
    for (const stop of this.stops) {
      const index = this.held.indexOf(stop);
      if (index >= 0 && (stopAt < 0 || index < stopAt)) stopAt = index;
    }
    if (stopAt >= 0) {
      const text = this.held.slice(0, stopAt);
      this.held = '';
      this.finished = true;
      return { text, stopped: true };
    }
    const keep = this.longestStopPrefixSuffix();
    const text = this.held.slice(0, this.held.length - keep);
    this.held = this.held.slice(this.held.length - keep);
    return { text, stopped: false };
  }

  /** Length of the longest end of the held text that begins some stop string. */
  private longestStopPrefixSuffix(): number {
    let longest = 0;
    for (const stop of this.stops) {
      for (let length = Math.min(stop.length - 1, this.held.length); length > longest; length--) {
        if (this.held.endsWith(stop.slice(0, length))) {
          longest = length;
          break;
        }
      }
    }
    return longest;
  }
}

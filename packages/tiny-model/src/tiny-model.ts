import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { encodeGguf, type GgufTensor, type GgufValue } from './gguf-writer.js';

/** Shape of the tiny model: real llama architecture, small enough to load in milliseconds. */
export const TINY_MODEL_SHAPE = {
  embeddingLength: 64,
  blockCount: 2,
  headCount: 4,
  feedForwardLength: 128,
  contextLength: 2048,
} as const;

/** Words whose every "▁"-prefix is a token, so they tokenize as one piece each. */
const WORDS = [
  'the', 'of', 'and', 'to', 'in', 'is', 'it', 'that', 'was', 'for', 'on', 'are', 'with', 'as',
  'his', 'they', 'be', 'at', 'one', 'have', 'this', 'hello', 'world', 'tiny', 'model',
]; // prettier-ignore

/** llama.cpp's token types (`llama_token_type`). */
const TokenType = { Normal: 1, Unknown: 2, Control: 3, Byte: 6 } as const;

/**
 * A SentencePiece (`llama`) vocabulary: `<unk> <s> </s>`, the 256 byte-fallback tokens (llama.cpp
 * needs `<0x0A>` for newlines and falls back to bytes for any other character), "▁", the letters,
 * and every "▁"-prefix of each word: SentencePiece merges only into pieces that exist, so without
 * the prefixes a whole word would never form.
 */
function buildVocabulary(): { tokens: string[]; scores: number[]; types: number[] } {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types: number[] = [TokenType.Unknown, TokenType.Control, TokenType.Control];
  for (let byte = 0; byte < 256; byte++) {
    tokens.push(`<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TokenType.Byte);
  }
  const pieces = new Set<string>(['▁', ...'abcdefghijklmnopqrstuvwxyz']);
  for (const word of WORDS) for (let end = 1; end <= word.length; end++) pieces.add(`▁${word.slice(0, end)}`);
  for (const piece of pieces) {
    tokens.push(piece);
    types.push(TokenType.Normal);
  }
  // Longer pieces score higher, so merges prefer them.
  const scores = tokens.map((token, id) => (types[id] === TokenType.Normal ? token.length : 0));
  return { tokens, scores, types };
}

/** mulberry32: a small, exact (integer-only) PRNG, so the same seed gives the same bytes on any host. */
function uniformSource(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options for {@link buildTinyModel}. */
export interface TinyModelOptions {
  /** Weights come from this seed (an unsigned 32-bit integer); another seed is another model. */
  seed?: number;
  /** `general.name` in the file. */
  name?: string;
}

/** Builds the GGUF bytes of a tiny llama model with random weights from `seed`. */
export function buildTinyModel(options: TinyModelOptions = {}): Buffer {
  const seed = options.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`seed must be an unsigned 32-bit integer, got ${seed}`);
  }
  const { embeddingLength: width, blockCount, headCount, feedForwardLength: ff } = TINY_MODEL_SHAPE;
  const vocab = buildVocabulary();
  const next = uniformSource(seed);
  // Uniform in ±sqrt(3/fanIn) has variance 1/fanIn: activations keep their scale through layers.
  const random = (name: string, dims: [number, number], gain = 1): GgufTensor => {
    const limit = gain * Math.sqrt(3 / dims[0]);
    const data = new Float32Array(dims[0] * dims[1]);
    for (let i = 0; i < data.length; i++) data[i] = (next() * 2 - 1) * limit;
    return { name, dims, data };
  };
  const ones = (name: string): GgufTensor => ({ name, dims: [width], data: new Float32Array(width).fill(1) });
  const tensors: GgufTensor[] = [random('token_embd.weight', [width, vocab.tokens.length], 8)];
  for (let block = 0; block < blockCount; block++) {
    const prefix = `blk.${block}`;
    tensors.push(
      ones(`${prefix}.attn_norm.weight`),
      random(`${prefix}.attn_q.weight`, [width, width]),
      random(`${prefix}.attn_k.weight`, [width, width]),
      random(`${prefix}.attn_v.weight`, [width, width]),
      random(`${prefix}.attn_output.weight`, [width, width]),
      ones(`${prefix}.ffn_norm.weight`),
      random(`${prefix}.ffn_gate.weight`, [width, ff]),
      random(`${prefix}.ffn_up.weight`, [width, ff]),
      random(`${prefix}.ffn_down.weight`, [ff, width]),
    );
  }
  // A large output gain makes each next-token distribution peaked, like a trained model's, so
  // a sampled token usually ranks in the reference's top few (what probes check). Byte and
  // control tokens get small logits: the text stays readable words (no broken UTF-8) and
  // generation rarely stops early at `</s>`.
  const output = random('output.weight', [width, vocab.tokens.length], 6);
  vocab.types.forEach((type, token) => {
    if (type !== TokenType.Normal) output.data.subarray(token * width, (token + 1) * width).fill(0);
  });
  tensors.push(ones('output_norm.weight'), output);

  const metadata = new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: options.name ?? `tessera-tiny-${seed}` }],
    ['general.file_type', { type: 'u32', value: 0 }], // all f32
    ['llama.context_length', { type: 'u32', value: TINY_MODEL_SHAPE.contextLength }],
    ['llama.embedding_length', { type: 'u32', value: width }],
    ['llama.block_count', { type: 'u32', value: blockCount }],
    ['llama.feed_forward_length', { type: 'u32', value: ff }],
    ['llama.attention.head_count', { type: 'u32', value: headCount }],
    ['llama.attention.head_count_kv', { type: 'u32', value: headCount }],
    ['llama.rope.dimension_count', { type: 'u32', value: width / headCount }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: 1e-5 }],
    ['tokenizer.ggml.model', { type: 'string', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'string[]', value: vocab.tokens }],
    ['tokenizer.ggml.scores', { type: 'f32[]', value: vocab.scores }],
    ['tokenizer.ggml.token_type', { type: 'i32[]', value: vocab.types }],
    ['tokenizer.ggml.unknown_token_id', { type: 'u32', value: 0 }],
    ['tokenizer.ggml.bos_token_id', { type: 'u32', value: 1 }],
    ['tokenizer.ggml.eos_token_id', { type: 'u32', value: 2 }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
  ]);
  return encodeGguf(metadata, tensors);
}

/** Writes the tiny model to `path` (parent folders created); returns the file's sha256 in hex. */
export async function writeTinyModel(path: string, options: TinyModelOptions = {}): Promise<string> {
  const bytes = buildTinyModel(options);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  return createHash('sha256').update(bytes).digest('hex');
}

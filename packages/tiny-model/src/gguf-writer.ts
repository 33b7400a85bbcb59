/**
 * A minimal GGUF v3 encoder: typed metadata and f32 tensors, which is all a tiny test model
 * needs. Layout (little-endian): header, metadata key/values, tensor infos, padding to the
 * alignment, then each tensor's data at an aligned offset.
 * See https://github.com/ggml-org/ggml/blob/master/docs/gguf.md.
 */

/** GGUF metadata value types used here (the format defines more). */
const ValueType = { Uint32: 4, Int32: 5, Float32: 6, Bool: 7, String: 8, Array: 9 } as const;
const GGML_TYPE_F32 = 0;
const ALIGNMENT = 32;

/** A metadata value with its GGUF type spelled out, so a number is never guessed to be u32 or f32. */
export type GgufValue =
  | { type: 'u32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'string[]'; value: readonly string[] }
  | { type: 'f32[]'; value: readonly number[] }
  | { type: 'i32[]'; value: readonly number[] };

/** One f32 tensor; `dims` are ggml's `ne`, fastest-varying first (`[columns, rows]`). */
export interface GgufTensor {
  name: string;
  dims: readonly number[];
  data: Float32Array;
}

/** Appends little-endian values to a growing list of chunks. */
class ByteSink {
  readonly chunks: Buffer[] = [];
  length = 0;

  bytes(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }
  u32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value);
    this.bytes(b);
  }
  i32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeInt32LE(value);
    this.bytes(b);
  }
  u64(value: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(value));
    this.bytes(b);
  }
  f32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeFloatLE(value);
    this.bytes(b);
  }
  string(value: string): void {
    const utf8 = Buffer.from(value, 'utf8');
    this.u64(utf8.length);
    this.bytes(utf8);
  }
  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    if (pad > 0) this.bytes(Buffer.alloc(pad));
  }
}

function writeValue(sink: ByteSink, value: GgufValue): void {
  const array = (elementType: number, count: number): void => {
    sink.u32(ValueType.Array);
    sink.u32(elementType);
    sink.u64(count);
  };
  switch (value.type) {
    case 'u32':
      sink.u32(ValueType.Uint32);
      return sink.u32(value.value);
    case 'f32':
      sink.u32(ValueType.Float32);
      return sink.f32(value.value);
    case 'bool':
      sink.u32(ValueType.Bool);
      return sink.bytes(Buffer.from([value.value ? 1 : 0]));
    case 'string':
      sink.u32(ValueType.String);
      return sink.string(value.value);
    case 'string[]':
      array(ValueType.String, value.value.length);
      return value.value.forEach((item) => sink.string(item));
    case 'f32[]':
      array(ValueType.Float32, value.value.length);
      return value.value.forEach((item) => sink.f32(item));
    case 'i32[]':
      array(ValueType.Int32, value.value.length);
      return value.value.forEach((item) => sink.i32(item));
    default: {
      const unhandled: never = value;
      throw new Error(`unhandled GGUF value ${JSON.stringify(unhandled)}`);
    }
  }
}

/** Encodes a GGUF v3 file. Metadata keeps insertion order, so equal inputs give equal bytes. */
export function encodeGguf(metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensor[]): Buffer {
  const sink = new ByteSink();
  sink.bytes(Buffer.from('GGUF', 'ascii'));
  sink.u32(3);
  sink.u64(tensors.length);
  sink.u64(metadata.size);
  for (const [key, value] of metadata) {
    sink.string(key);
    writeValue(sink, value);
  }
  let offset = 0;
  for (const tensor of tensors) {
    const elements = tensor.dims.reduce((a, b) => a * b, 1);
    if (elements !== tensor.data.length) {
      throw new Error(
        `tensor ${tensor.name}: dims ${tensor.dims.join('x')} do not match ${tensor.data.length} values`,
      );
    }
    sink.string(tensor.name);
    sink.u32(tensor.dims.length);
    tensor.dims.forEach((dim) => sink.u64(dim));
    sink.u32(GGML_TYPE_F32);
    sink.u64(offset);
    offset += Math.ceil((elements * 4) / ALIGNMENT) * ALIGNMENT;
  }
  sink.padTo(ALIGNMENT);
  for (const tensor of tensors) {
    // Copy through a little-endian view: Float32Array uses the host's byte order.
    const bytes = Buffer.alloc(tensor.data.length * 4);
    tensor.data.forEach((value, index) => bytes.writeFloatLE(value, index * 4));
    sink.bytes(bytes);
    sink.padTo(ALIGNMENT);
  }
  return Buffer.concat(sink.chunks, sink.length);
}

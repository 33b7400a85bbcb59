export { buildTinyModel, writeTinyModel, TINY_MODEL_SHAPE, type TinyModelOptions } from './tiny-model.js';
export { encodeGguf, type GgufTensor, type GgufValue } from './gguf-writer.js';

/** Building blocks for models. */

export { Module, type Parameter } from './module.js';
export { DenseWeight, isLinearWeight, type LinearWeight } from './weight.js';
export { Linear, Embedding, RMSNorm, LayerNorm } from './layers.js';

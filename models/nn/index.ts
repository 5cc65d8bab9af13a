/** Building blocks for models. */

export { Module, type Parameter, type ParamSpec, type DeclaredParameter } from './module.js';
export { DenseWeight, isLinearWeight, type LinearWeight } from './weight.js';
export { Linear, Embedding, RMSNorm, LayerNorm } from './layers.js';

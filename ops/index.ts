/** Every public op. */

export * from './creation.js';
export * from './elementwise.js';
export * from './linalg.js';
export * from './nn.js';
export * from './reduce.js';
export * from './shape_ops.js';
export * from './attention/index.js';
export * from './quant/index.js';
export * from './fused.js';

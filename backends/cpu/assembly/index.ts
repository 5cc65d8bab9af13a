// Entry point of the WebAssembly kernel module (AssemblyScript, compiled by build.mjs). Every
// kernel the worker pool runs is exported here with the signature f(tid, nth, ...args).

export { gemm, gemv } from './matmul';
export { gemmWorkspaceBytes } from './gemm';
export { gemvWorkspaceBytes } from './gemv';
export { halfToF32, f32ToHalf } from './convert';
export { attnForward, attnMerge, attnWorkspaceBytes } from './attention';
// Not kernels: exported only so Binaryen keeps these micro-kernels out of line. Inlined into the
// attention driver, V8 hoists the softmax's vector constants into registers the 10-accumulator
// loops need, and they spill (measured: 23 vs 29 GFLOP/s per thread before the other fixes).
export { tileQK, tilePV } from './attention_tile';
export { pv1, scores1, scores4 } from './attention_rows';
export { poolMark, poolTrap } from './testing';
export { int8Gemm, int8RowStats, int8RowQuant } from './quant_int8';
export { q4Gemm, q4GemmWorkspaceBytes } from './quant_4bit';
export { binary, unary, swiglu } from './elementwise';
export { rmsNorm, addRmsNorm, layerNorm, softmax, rope } from './rows';
export { copyRuns } from './copy';

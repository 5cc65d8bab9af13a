// Entry point of the WebAssembly kernel module (AssemblyScript, compiled by build.mjs). Every
// kernel the worker pool runs is exported here with the signature f(tid, nth, ...args).

export { gemm, gemv } from './matmul';
export { gemmWorkspaceBytes } from './gemm';
export { gemvWorkspaceBytes } from './gemv';
export { halfToF32, f32ToHalf } from './convert';
export { poolMark, poolTrap } from './testing';
export { binary, unary, swiglu } from './elementwise';
export { rmsNorm, addRmsNorm, layerNorm, softmax, rope } from './rows';
export { copyRuns } from './copy';

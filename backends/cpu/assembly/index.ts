// Entry point of the WebAssembly kernel module (AssemblyScript, compiled by build.mjs). Every
// kernel the worker pool runs is exported here with the signature f(tid, nth, ...args).

export { gemm, gemv } from './matmul';
export { gemmWorkspaceBytes } from './gemm';
export { gemvWorkspaceBytes } from './gemv';
export { halfToF32, f32ToHalf } from './convert';
export { poolMark, poolTrap } from './testing';
export { int8Gemm, int8RowStats, int8RowQuant } from './quant_int8';
export { q4Gemm, q4GemmWorkspaceBytes } from './quant_4bit';

/** Quantized formats as ops: LLM.int8 and 4-bit FP4/NF4 (docs/quantization.md). */

export {
  BLOCKSIZES_4BIT, NESTED_BLOCKSIZE, NF4_CODE, FP4_CODE, NF4_THRESHOLDS, FP4_THRESHOLDS, INT8_MM_DEQUANT, INT8_W_DEQUANT,
  codeTable, dynamicMapSigned, encodeFp4, encodeNf4, encodeSorted, rne, type QuantType,
} from '../../lib/quant_codes.js';
export * from './quant4.js';
export * from './int8.js';

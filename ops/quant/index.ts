/** Quantized formats as ops: LLM.int8 and 4-bit FP4/NF4 (docs/quantization.md). */

export {
  BLOCKSIZES_4BIT, NESTED_BLOCKSIZE, NF4_CODE, FP4_CODE, NF4_THRESHOLDS, FP4_THRESHOLDS, INT8_MM_DEQUANT, INT8_W_DEQUANT,
  codeTable, dynamicMapSigned, encodeFp4, encodeNf4, rne, type QuantType,
} from '../../lib/quant_codes.js';
export {
  quantize4bit, dequantize4bit, doubleQuantize, restoreAbsmax, matmul4bit, disposeQuant4State,
  type Quant4State, type Quantize4bitOptions, type Matmul4bitOptions, type DoubleQuantizeOptions,
} from './quant4.js';
export {
  quantizeInt8Rowwise, dequantizeInt8, int8VectorQuant, int8MatMul, int8Linear, disposeInt8State,
  type Int8State, type Int8Activations, type Int8LinearOptions, type DequantizeInt8Options,
} from './int8.js';

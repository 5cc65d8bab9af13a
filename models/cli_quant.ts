/** The CLI's quantization flags → a quantization config for loading. */

import type { QuantizationHook } from './auto.js';
import { BitsAndBytesConfig } from './quant/config.js';

const COMPUTE_DTYPES = ['float32', 'float16', 'bfloat16'];

/**
 * Builds the loader's quantization config from --load-in-8bit / --load-in-4bit / --quant-type (nf4
 * or fp4) / --compute-dtype (the 4-bit layers' compute dtype, `bnb_4bit_compute_dtype`).
 */
export async function quantizationFromFlags(in8: boolean, in4: boolean, quantType: string | undefined, computeDtype?: string): Promise<QuantizationHook | null> {
  if (computeDtype !== undefined && !in4) throw new Error('--compute-dtype needs --load-in-4bit');
  if (computeDtype !== undefined && !COMPUTE_DTYPES.includes(computeDtype)) {
    throw new Error(`--compute-dtype must be one of ${COMPUTE_DTYPES.join(', ')}, got '${computeDtype}'`);
  }
  if (!in8 && !in4) {
    if (quantType) throw new Error('--quant-type needs --load-in-4bit');
    return null;
  }
  if (in8 && in4) throw new Error('--load-in-8bit and --load-in-4bit cannot be combined');
  if (quantType !== undefined && quantType !== 'nf4' && quantType !== 'fp4') throw new Error(`--quant-type must be nf4 or fp4, got '${quantType}'`);
  if (in8) {
    if (quantType) throw new Error('--quant-type needs --load-in-4bit');
    return new BitsAndBytesConfig({ loadIn8bit: true });
  }
  return new BitsAndBytesConfig({
    loadIn4bit: true,
    bnb4bitQuantType: (quantType as 'nf4' | 'fp4' | undefined) ?? 'nf4',
    bnb4bitComputeDtype: (computeDtype as 'float32' | 'float16' | 'bfloat16' | undefined) ?? 'float32',
  });
}

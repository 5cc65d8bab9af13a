/** The CLI's quantization flags → a quantization config for loading. */

import type { QuantizationHook } from './auto.js';

/** Builds the loader's quantization hook from --load-in-8bit / --load-in-4bit / --quant-type. */
export async function quantizationFromFlags(in8: boolean, in4: boolean, quantType: string | undefined): Promise<QuantizationHook | null> {
  if (!in8 && !in4) {
    if (quantType) throw new Error('--quant-type needs --load-in-4bit');
    return null;
  }
  if (in8 && in4) throw new Error('--load-in-8bit and --load-in-4bit cannot be combined');
  throw new Error('quantized loading is not available in this build yet (it arrives with the quantization module)');
}

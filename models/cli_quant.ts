/** The CLI's quantization flags → a quantization config for loading. */

import type { QuantizationHook } from './auto.js';
import { BitsAndBytesConfig } from './quant/config.js';

/** Builds the loader's quantization config from --load-in-8bit / --load-in-4bit / --quant-type (nf4 or fp4). */
export async function quantizationFromFlags(in8: boolean, in4: boolean, quantType: string | undefined): Promise<QuantizationHook | null> {
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
  return new BitsAndBytesConfig({ loadIn4bit: true, bnb4bitQuantType: (quantType as 'nf4' | 'fp4' | undefined) ?? 'nf4' });
}

/**
 * `BitsAndBytesConfig`: Hugging Face's quantization config with every field (camelCase here,
 * snake_case in JSON), the same defaults and validation, and its `quantization_config` dict.
 * docs/quantization.md §3.4 and §4.1.
 */

import type { DType } from '../../lib/dtype.js';
import { ArgumentError } from '../../lib/errors.js';
import { bnbWeightTransform, type QuantWeightTransform, type WeightTransformOptions } from './hook.js';
import { QUANT_STORAGE_DTYPES, type QuantStorage } from './quant4_weight.js';

/** Constructor options: every field optional, defaults as transformers. */
export interface BitsAndBytesConfigOptions {
  loadIn8bit?: boolean;
  loadIn4bit?: boolean;
  llmInt8Threshold?: number;
  llmInt8SkipModules?: string[] | null;
  llmInt8EnableFp32CpuOffload?: boolean;
  llmInt8HasFp16Weight?: boolean;
  bnb4bitComputeDtype?: DType | null;
  bnb4bitQuantType?: 'fp4' | 'nf4';
  bnb4bitUseDoubleQuant?: boolean;
  bnb4bitQuantStorage?: QuantStorage | null;
}

/** The `quantization_config` dict (snake_case keys, sorted). */
export type QuantizationConfigDict = Record<string, unknown>;

const COMPUTE_DTYPES: readonly DType[] = ['float32', 'float16', 'bfloat16'];

function checkBool(v: unknown, name: string): boolean {
  if (typeof v !== 'boolean') throw new ArgumentError(`BitsAndBytesConfig: '${name}' must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}

/** What to quantize and how; mirrors transformers' `BitsAndBytesConfig`. */
export class BitsAndBytesConfig {
  readonly quantMethod = 'bitsandbytes';
  private _loadIn8bit = false;
  private _loadIn4bit = false;
  /** Outlier threshold on activations for 8-bit layers (6.0); 0 disables the decomposition. */
  llmInt8Threshold: number;
  /** Modules left unquantized; replaces the automatic list (`lm_head`) when given. Applies to 4-bit too. */
  llmInt8SkipModules: string[] | null;
  /** Stored for compatibility (flashtensor has no device map: nothing is offloaded). */
  llmInt8EnableFp32CpuOffload: boolean;
  /** Keep 16-bit master weights in 8-bit layers. */
  llmInt8HasFp16Weight: boolean;
  /** Matmul dtype of 4-bit layers (float32). */
  bnb4bitComputeDtype: DType;
  /** 'fp4' (default) or 'nf4'. */
  bnb4bitQuantType: 'fp4' | 'nf4';
  /** Double-quantize the absmax values (false). */
  bnb4bitUseDoubleQuant: boolean;
  /** Container dtype of saved packed 4-bit weights (uint8). */
  bnb4bitQuantStorage: QuantStorage;

  constructor(opts: BitsAndBytesConfigOptions = {}) {
    this.llmInt8Threshold = opts.llmInt8Threshold ?? 6.0;
    this.llmInt8SkipModules = opts.llmInt8SkipModules ?? null;
    this.llmInt8EnableFp32CpuOffload = opts.llmInt8EnableFp32CpuOffload ?? false;
    this.llmInt8HasFp16Weight = opts.llmInt8HasFp16Weight ?? false;
    this.bnb4bitComputeDtype = opts.bnb4bitComputeDtype ?? 'float32';
    this.bnb4bitQuantType = opts.bnb4bitQuantType ?? 'fp4';
    this.bnb4bitUseDoubleQuant = opts.bnb4bitUseDoubleQuant ?? false;
    this.bnb4bitQuantStorage = opts.bnb4bitQuantStorage ?? 'uint8';
    const l8 = checkBool(opts.loadIn8bit ?? false, 'loadIn8bit');
    const l4 = checkBool(opts.loadIn4bit ?? false, 'loadIn4bit');
    if (l8 && l4) throw new ArgumentError('BitsAndBytesConfig: loadIn4bit and loadIn8bit are both true, but only one can be used at the same time');
    this._loadIn8bit = l8;
    this._loadIn4bit = l4;
    this.validate();
  }

  /** Use LLM.int8 layers. Setting it re-checks that 4-bit is off. */
  get loadIn8bit(): boolean {
    return this._loadIn8bit;
  }

  set loadIn8bit(v: boolean) {
    checkBool(v, 'loadIn8bit');
    if (v && this._loadIn4bit) throw new ArgumentError('BitsAndBytesConfig: loadIn4bit and loadIn8bit are both true, but only one can be used at the same time');
    this._loadIn8bit = v;
  }

  /** Use 4-bit layers. Setting it re-checks that 8-bit is off. */
  get loadIn4bit(): boolean {
    return this._loadIn4bit;
  }

  set loadIn4bit(v: boolean) {
    checkBool(v, 'loadIn4bit');
    if (v && this._loadIn8bit) throw new ArgumentError('BitsAndBytesConfig: loadIn4bit and loadIn8bit are both true, but only one can be used at the same time');
    this._loadIn4bit = v;
  }

  /** Throws on any field of the wrong type or out of its domain (as transformers' `post_init`). */
  validate(): void {
    if (typeof this.llmInt8Threshold !== 'number' || !Number.isFinite(this.llmInt8Threshold) || this.llmInt8Threshold < 0) {
      throw new ArgumentError(`BitsAndBytesConfig: 'llmInt8Threshold' must be a finite number ≥ 0, got ${JSON.stringify(this.llmInt8Threshold)}`);
    }
    const skip = this.llmInt8SkipModules;
    if (skip !== null && (!Array.isArray(skip) || !skip.every((s) => typeof s === 'string'))) {
      throw new ArgumentError(`BitsAndBytesConfig: 'llmInt8SkipModules' must be an array of strings or null, got ${JSON.stringify(skip)}`);
    }
    checkBool(this.llmInt8EnableFp32CpuOffload, 'llmInt8EnableFp32CpuOffload');
    checkBool(this.llmInt8HasFp16Weight, 'llmInt8HasFp16Weight');
    checkBool(this.bnb4bitUseDoubleQuant, 'bnb4bitUseDoubleQuant');
    if (!COMPUTE_DTYPES.includes(this.bnb4bitComputeDtype)) {
      throw new ArgumentError(`BitsAndBytesConfig: 'bnb4bitComputeDtype' must be one of ${COMPUTE_DTYPES.join(', ')}, got ${JSON.stringify(this.bnb4bitComputeDtype)}`);
    }
    if (this.bnb4bitQuantType !== 'fp4' && this.bnb4bitQuantType !== 'nf4') {
      throw new ArgumentError(`BitsAndBytesConfig: 'bnb4bitQuantType' must be 'fp4' or 'nf4', got ${JSON.stringify(this.bnb4bitQuantType)}`);
    }
    if (!QUANT_STORAGE_DTYPES.includes(this.bnb4bitQuantStorage)) {
      throw new ArgumentError(
        `BitsAndBytesConfig: 'bnb4bitQuantStorage' must be one of ${QUANT_STORAGE_DTYPES.join(', ')}, got ${JSON.stringify(this.bnb4bitQuantStorage)}`,
      );
    }
  }

  /**
   * The model loader's hook (`AutoModelForCausalLM.fromPretrained(dir, { quantizationConfig })`):
   * quantizes Linear weights as they are read and rebuilds pre-quantized ones.
   */
  weightTransform(_model?: unknown, _cfg?: unknown, opts: WeightTransformOptions = {}): QuantWeightTransform {
    return bnbWeightTransform(this, opts);
  }

  /** True when 8-bit or 4-bit is on. */
  isQuantizable(): boolean {
    return this._loadIn8bit || this._loadIn4bit;
  }

  /** 'llm_int8', 'fp4', 'nf4', or null when nothing is quantized. */
  quantizationMethod(): 'llm_int8' | 'fp4' | 'nf4' | null {
    if (this._loadIn8bit) return 'llm_int8';
    if (this._loadIn4bit) return this.bnb4bitQuantType;
    return null;
  }

  /** The `quantization_config` dict transformers writes: every field, snake_case, keys sorted. */
  toJSON(): QuantizationConfigDict {
    const d: QuantizationConfigDict = {
      _load_in_4bit: this._loadIn4bit,
      _load_in_8bit: this._loadIn8bit,
      bnb_4bit_compute_dtype: this.bnb4bitComputeDtype,
      bnb_4bit_quant_storage: this.bnb4bitQuantStorage,
      bnb_4bit_quant_type: this.bnb4bitQuantType,
      bnb_4bit_use_double_quant: this.bnb4bitUseDoubleQuant,
      llm_int8_enable_fp32_cpu_offload: this.llmInt8EnableFp32CpuOffload,
      llm_int8_has_fp16_weight: this.llmInt8HasFp16Weight,
      llm_int8_skip_modules: this.llmInt8SkipModules ? this.llmInt8SkipModules.slice() : null,
      llm_int8_threshold: this.llmInt8Threshold,
      load_in_4bit: this._loadIn4bit,
      load_in_8bit: this._loadIn8bit,
      quant_method: this.quantMethod,
    };
    return Object.fromEntries(Object.keys(d).sort().map((k) => [k, d[k]]));
  }

  /**
   * Parses a `quantization_config` dict; missing fields take the defaults, unknown keys are
   * ignored. `quant_method`, when present, must be "bitsandbytes".
   */
  static fromJSON(d: QuantizationConfigDict): BitsAndBytesConfig {
    if (!d || typeof d !== 'object') throw new ArgumentError(`BitsAndBytesConfig.fromJSON: expected an object, got ${JSON.stringify(d)}`);
    if (d.quant_method !== undefined && d.quant_method !== 'bitsandbytes') {
      throw new ArgumentError(`BitsAndBytesConfig.fromJSON: 'quant_method' must be "bitsandbytes", got ${JSON.stringify(d.quant_method)}`);
    }
    const pick = <T>(...keys: string[]): T | undefined => {
      for (const k of keys) if (d[k] !== undefined && d[k] !== null) return d[k] as T;
      return undefined;
    };
    return new BitsAndBytesConfig({
      loadIn8bit: pick<boolean>('load_in_8bit', '_load_in_8bit'),
      loadIn4bit: pick<boolean>('load_in_4bit', '_load_in_4bit'),
      llmInt8Threshold: pick<number>('llm_int8_threshold'),
      llmInt8SkipModules: (d.llm_int8_skip_modules as string[] | null | undefined) ?? null,
      llmInt8EnableFp32CpuOffload: pick<boolean>('llm_int8_enable_fp32_cpu_offload'),
      llmInt8HasFp16Weight: pick<boolean>('llm_int8_has_fp16_weight'),
      bnb4bitComputeDtype: pick<DType>('bnb_4bit_compute_dtype'),
      bnb4bitQuantType: pick<'fp4' | 'nf4'>('bnb_4bit_quant_type'),
      bnb4bitUseDoubleQuant: pick<boolean>('bnb_4bit_use_double_quant'),
      bnb4bitQuantStorage: pick<QuantStorage>('bnb_4bit_quant_storage'),
    });
  }
}

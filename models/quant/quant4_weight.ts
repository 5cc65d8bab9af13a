/**
 * `Quant4Weight`: a Linear weight stored as FP4/NF4 codes (optionally double-quantized absmax).
 * The product dequantizes block by block inside the matmul kernel, in the compute dtype.
 */

import { bytesPerElement, isFloat, type DType } from '../../lib/dtype.js';
import { ENGINE } from '../../lib/engine.js';
import { ArgumentError, DTypeError } from '../../lib/errors.js';
import { saveBytesAs } from '../../lib/safetensors.js';
import type { Tensor } from '../../lib/tensor.js';
import { fromStorage } from '../../ops/creation.js';
import {
  checkQuant4State, dequantize4bit, disposeQuant4State, matmul4bit, quant4StateBytes, quantize4bit,
  type Quant4State, type Quantize4bitOptions,
} from '../../ops/quant/quant4.js';
import type { LinearWeight } from '../nn/weight.js';
import { pyFloat, pyJsonDumps, type PyJsonValue } from './pyjson.js';

/** Container dtypes a packed 4-bit weight may be saved in (`bnb_4bit_quant_storage`). */
export const QUANT_STORAGE_DTYPES = ['float16', 'float32', 'int8', 'uint8', 'float64', 'bfloat16'] as const;
export type QuantStorage = (typeof QUANT_STORAGE_DTYPES)[number];

/** Options of a 4-bit weight beyond its format. */
export interface Quant4WeightOptions {
  /** Dtype of the matmul (default float32, as transformers). */
  computeDtype?: DType;
  /** Container dtype of the saved packed weight (default uint8); the bytes are the same. */
  quantStorage?: QuantStorage;
  /**
   * The quant-state JSON bytes as loaded (uint8 [len]); kept verbatim so a load → save round trip
   * is byte-exact. Default: generated from the state. The weight takes ownership.
   */
  quantStateTensor?: Tensor;
}

/** The packed quant-state JSON, formatted exactly like bitsandbytes' (Python json.dumps). */
export function quantStateJson(state: Quant4State): string {
  const o: Record<string, PyJsonValue> = {
    quant_type: state.quantType,
    blocksize: state.blocksize,
    dtype: state.dtype,
    shape: state.shape.slice(),
  };
  if (state.nestedAbsmax) {
    o.nested_blocksize = state.nestedBlocksize ?? 256;
    o.nested_dtype = 'float32';
    o.nested_offset = pyFloat(state.offset ?? 0);
  }
  return pyJsonDumps(o);
}

/** A Linear weight in 4-bit FP4/NF4 blockwise format. */
export class Quant4Weight implements LinearWeight {
  readonly kind: 'nf4' | 'fp4';
  readonly outFeatures: number;
  readonly inFeatures: number;
  readonly computeDtype: DType;
  readonly quantStorage: QuantStorage;
  /** The JSON quant state as uint8 bytes (saved as `weight.quant_state.bitsandbytes__<type>`). */
  readonly quantStateTensor: Tensor;
  private container: Tensor | null = null;

  /** Wraps a 2-D 4-bit state; the weight owns the state's tensors from now on. */
  constructor(readonly state: Quant4State, opts: Quant4WeightOptions = {}) {
    checkQuant4State(state, 'Quant4Weight');
    if (state.shape.length !== 2) throw new ArgumentError(`Quant4Weight: state.shape must be [out, in], got [${state.shape}]`);
    const computeDtype = opts.computeDtype ?? 'float32';
    if (!isFloat(computeDtype)) throw new DTypeError(`Quant4Weight: 'computeDtype' must be float32, float16 or bfloat16, got ${computeDtype}`);
    const quantStorage = opts.quantStorage ?? 'uint8';
    if (!QUANT_STORAGE_DTYPES.includes(quantStorage)) {
      throw new ArgumentError(`Quant4Weight: 'quantStorage' must be one of ${QUANT_STORAGE_DTYPES.join(', ')}, got ${JSON.stringify(quantStorage)}`);
    }
    this.kind = state.quantType;
    [this.outFeatures, this.inFeatures] = state.shape;
    this.computeDtype = computeDtype;
    this.quantStorage = quantStorage;
    if (opts.quantStateTensor) {
      const t = opts.quantStateTensor;
      if (t.dtype !== 'uint8' || t.rank !== 1) throw new DTypeError(`Quant4Weight: 'quantStateTensor' must be uint8 [len], got ${t.dtype} [${t.shape}]`);
      this.quantStateTensor = t;
    } else {
      const json = new TextEncoder().encode(quantStateJson(state));
      this.quantStateTensor = fromStorage(json, [json.length], 'uint8');
    }
  }

  /** Quantizes a float weight [out, in]. */
  static fromFloat(weight: Tensor, opts: Quantize4bitOptions & Quant4WeightOptions = {}): Quant4Weight {
    return new Quant4Weight(quantize4bit(weight, opts), opts);
  }

  matmulT(x: Tensor): Tensor {
    return matmul4bit(x, this.state, { computeDtype: this.computeDtype });
  }

  /** x·Wᵀ + bias with the bias added in the compute dtype before the single rounding. */
  linear(x: Tensor, bias: Tensor | null): Tensor {
    return matmul4bit(x, this.state, { computeDtype: this.computeDtype, bias });
  }

  dequantize(dtype?: DType): Tensor {
    return dequantize4bit(this.state, dtype ?? this.state.dtype);
  }

  /** The bitsandbytes keys: weight, weight.absmax, weight.quant_map, [weight.nested_absmax, weight.nested_quant_map], weight.quant_state.bitsandbytes__<type>. */
  stateTensors(): Record<string, Tensor> {
    const s = this.state;
    const out: Record<string, Tensor> = {
      weight: this.packedForStorage(),
      'weight.absmax': s.absmax,
      'weight.quant_map': s.quantMap,
    };
    if (s.nestedAbsmax) {
      out['weight.nested_absmax'] = s.nestedAbsmax;
      out['weight.nested_quant_map'] = s.nestedQuantMap!;
    }
    out[`weight.quant_state.bitsandbytes__${s.quantType}`] = this.quantStateTensor;
    return out;
  }

  byteSize(): number {
    return quant4StateBytes(this.state) + this.quantStateTensor.size;
  }

  dispose(): void {
    this.container?.dispose();
    disposeQuant4State(this.state);
    this.quantStateTensor.dispose();
  }

  /** The packed bytes viewed as the quant_storage dtype, [bytes / itemsize, 1] (no copy). */
  private packedForStorage(): Tensor {
    const st = this.quantStorage;
    if (st === 'uint8') return this.state.packed;
    if (this.container) return this.container;
    const bytes = this.state.packed.size;
    const item = st === 'float64' ? 8 : bytesPerElement(st);
    if (bytes % item !== 0) {
      throw new ArgumentError(`Quant4Weight: ${bytes} packed bytes do not fill whole ${st} elements (quantStorage ${st}); use uint8`);
    }
    // flashtensor has no float64 tensors: a uint8 view whose bytes the writers save as F64.
    this.container = st === 'float64'
      ? saveBytesAs(ENGINE.makeView(this.state.packed, [bytes], 'uint8'), 'F64', [bytes / item, 1])
      : ENGINE.makeView(this.state.packed, [bytes / item, 1], st);
    return this.container;
  }
}

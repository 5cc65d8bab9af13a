/**
 * 4-bit blockwise formats (FP4 / NF4, QLoRA): quantize, dequantize, double quantization of the
 * absmax values, and the 4-bit weight matmul. docs/quantization.md §2.
 */

import { isFloat, type DType } from '../../lib/dtype.js';
import { ENGINE } from '../../lib/engine.js';
import { ArgumentError, DTypeError, ShapeError } from '../../lib/errors.js';
import { BLOCKSIZES_4BIT, codeTable, dynamicMapSigned, NESTED_BLOCKSIZE, type QuantType } from '../../lib/quant_codes.js';
import { sizeOf } from '../../lib/shape.js';
import type { Tensor } from '../../lib/tensor.js';
import { fromStorage } from '../creation.js';
import { sub } from '../elementwise.js';
import { mean } from '../reduce.js';
import { checkFloat, checkTensor } from '../util.js';

/**
 * A 4-bit quantized tensor: what bitsandbytes calls the packed weight plus its `QuantState`.
 * Tensors are owned by the state (dispose them with `disposeQuant4State`).
 */
export interface Quant4State {
  /** uint8 [ceil(n/2), 1]: two codes per byte, element 2j in the high nibble. */
  packed: Tensor;
  /** float32 [nb] absmax per block; with double quantization uint8 [nb] codes into `nestedQuantMap`. */
  absmax: Tensor;
  /** float32 [16]: the code table in code order (NF4 or FP4). */
  quantMap: Tensor;
  /** Original shape (2-D for a Linear weight). */
  shape: number[];
  quantType: QuantType;
  blocksize: number;
  /** Dtype of the weight when it was quantized: what `dequantize4bit` returns by default. */
  dtype: DType;
  /** Double quantization: float32 [ceil(nb/256)] absmax of the centered absmax per 256 blocks. */
  nestedAbsmax?: Tensor;
  /** Double quantization: float32 [256], the signed 8-bit dynamic map. */
  nestedQuantMap?: Tensor;
  /** Double quantization: the float32 mean of the absmax values, added back on restore. */
  offset?: number;
  /** Double quantization: always 256. */
  nestedBlocksize?: number;
}

/** Options of `quantize4bit`. */
export interface Quantize4bitOptions {
  /** 'nf4' or 'fp4' (default 'fp4', as bitsandbytes). */
  quantType?: QuantType;
  /** Elements per absmax block: 32, 64 (default), 128, …, 4096. */
  blocksize?: number;
  /** Quantize the absmax values too (8-bit, blocks of 256, mean-subtracted). Default false. */
  doubleQuant?: boolean;
}

/** Throws unless `quantType` is 'nf4' or 'fp4'. */
export function checkQuantType(quantType: unknown, op: string, arg = 'quantType'): QuantType {
  if (quantType !== 'nf4' && quantType !== 'fp4') {
    throw new ArgumentError(`${op}: '${arg}' must be 'nf4' or 'fp4', got ${JSON.stringify(quantType)}`);
  }
  return quantType;
}

/** Throws unless `blocksize` is one of the allowed 4-bit block sizes. */
export function checkBlocksize(blocksize: unknown, op: string, arg = 'blocksize'): number {
  if (typeof blocksize !== 'number' || !BLOCKSIZES_4BIT.includes(blocksize)) {
    throw new ArgumentError(`${op}: '${arg}' must be one of ${BLOCKSIZES_4BIT.join(', ')}, got ${JSON.stringify(blocksize)}`);
  }
  return blocksize;
}

/**
 * Quantizes a float tensor to 4 bits, blockwise over its row-major flattening: per block of
 * `blocksize` elements the float32 absmax, then each element scaled by the reciprocal absmax and
 * encoded to the nearest NF4 level / by the FP4 thresholds. Matches bitsandbytes' codes.
 */
export function quantize4bit(w: Tensor, opts: Quantize4bitOptions = {}): Quant4State {
  const op = 'quantize4bit';
  checkTensor(w, op, 'w');
  checkFloat(w, op, 'w');
  if (w.size === 0) throw new ShapeError(`${op}: 'w' must not be empty, got shape [${w.shape}]`);
  const quantType = checkQuantType(opts.quantType ?? 'fp4', op);
  const blocksize = checkBlocksize(opts.blocksize ?? 64, op);
  const [packed, absmax] = ENGINE.runKernel('Quantize4bit', [w], { quantType, blocksize }) as Tensor[];
  const quantMap = fromStorage(codeTable(quantType).slice(), [16], 'float32');
  const state: Quant4State = { packed, absmax, quantMap, shape: w.shape.slice(), quantType, blocksize, dtype: w.dtype };
  if (!opts.doubleQuant) return state;
  const dq = doubleQuantize(absmax);
  absmax.dispose();
  return { ...state, ...dq };
}

/** Options of `doubleQuantize`. */
export interface DoubleQuantizeOptions {
  /**
   * The value subtracted before quantizing (default: the float32 mean of the absmax values). A
   * float32 mean depends on the summation order, so PyTorch's and this one can differ in the last
   * bit; passing bitsandbytes' stored `nested_offset` reproduces its codes exactly.
   */
  offset?: number;
}

/** The second level of double quantization: absmax values → uint8 codes + nested absmax + offset. */
export function doubleQuantize(absmax: Tensor, opts: DoubleQuantizeOptions = {}): Pick<Quant4State, 'absmax' | 'nestedAbsmax' | 'nestedQuantMap' | 'offset' | 'nestedBlocksize'> {
  const op = 'doubleQuantize';
  checkTensor(absmax, op, 'absmax');
  if (absmax.dtype !== 'float32' || absmax.rank !== 1) {
    throw new DTypeError(`${op}: 'absmax' must be float32 [nb], got ${absmax.dtype} [${absmax.shape}]`);
  }
  let offset: number;
  if (opts.offset !== undefined) {
    if (typeof opts.offset !== 'number' || !Number.isFinite(opts.offset)) throw new ArgumentError(`${op}: 'offset' must be a finite number, got ${String(opts.offset)}`);
    offset = Math.fround(opts.offset);
  } else {
    const m = mean(absmax);
    try {
      offset = m.dataSync()[0];
    } finally {
      m.dispose();
    }
  }
  const centered = sub(absmax, offset);
  const nestedQuantMap = fromStorage(dynamicMapSigned().slice(), [256], 'float32');
  try {
    const [codes, nestedAbsmax] = ENGINE.runKernel('QuantizeBlockwise8', [centered, nestedQuantMap], { blocksize: NESTED_BLOCKSIZE }) as Tensor[];
    return { absmax: codes, nestedAbsmax, nestedQuantMap, offset, nestedBlocksize: NESTED_BLOCKSIZE };
  } finally {
    centered.dispose();
  }
}

/** Float32 absmax per block of a state (restored from the nested codes with double quantization). */
export function restoreAbsmax(state: Quant4State): Tensor {
  checkQuant4State(state, 'restoreAbsmax');
  if (!isNested(state)) return ENGINE.run('Cast', [state.absmax], { dtype: 'float32' });
  return ENGINE.run('DequantizeBlockwise8', [state.absmax, state.nestedAbsmax!, state.nestedQuantMap!], {
    blocksize: NESTED_BLOCKSIZE,
    offset: state.offset ?? 0,
  });
}

/** Dequantizes a 4-bit state to a dense tensor of its original shape, in `dtype` (default: the state's). */
export function dequantize4bit(state: Quant4State, dtype: DType = state.dtype): Tensor {
  const op = 'dequantize4bit';
  checkQuant4State(state, op);
  if (!isFloat(dtype)) throw new DTypeError(`${op}: 'dtype' must be float32, float16 or bfloat16, got ${dtype}`);
  return ENGINE.run('Dequantize4bit', stateInputs(state), {
    blocksize: state.blocksize,
    shape: state.shape,
    dtype,
    nested: isNested(state),
    offset: state.offset ?? 0,
  });
}

/** Options of `matmul4bit`. */
export interface Matmul4bitOptions {
  /**
   * Dtype of the product (default float32): x, the bias and the 16-entry code table are rounded to
   * it; each weight is code × its block's float32 absmax; float32 accumulation; one final rounding.
   */
  computeDtype?: DType;
  /** [N], added in the compute dtype. */
  bias?: Tensor | null;
}

/**
 * x (…, K) · Wᵀ for a 4-bit W [N, K]: dequantizes W block by block inside the product (never the
 * whole weight), in the compute dtype, and returns (…, N) in x's dtype.
 */
export function matmul4bit(x: Tensor, state: Quant4State, opts: Matmul4bitOptions = {}): Tensor {
  const op = 'matmul4bit';
  checkTensor(x, op, 'x');
  checkFloat(x, op, 'x');
  checkQuant4State(state, op);
  if (state.shape.length !== 2) throw new ShapeError(`${op}: the 4-bit weight must be 2-D [N, K], got shape [${state.shape}]`);
  const [N, K] = state.shape;
  if (x.rank < 1 || x.shape[x.rank - 1] !== K) {
    throw new ShapeError(`${op}: 'x' must have ${K} features in its last axis (weight [${state.shape}]), got shape [${x.shape}]`);
  }
  const computeDtype = opts.computeDtype ?? 'float32';
  if (!isFloat(computeDtype)) throw new DTypeError(`${op}: 'computeDtype' must be float32, float16 or bfloat16, got ${computeDtype}`);
  const bias = opts.bias ?? null;
  if (bias) {
    checkTensor(bias, op, 'bias');
    if (bias.rank !== 1 || bias.shape[0] !== N) throw new ShapeError(`${op}: 'bias' must be [${N}], got [${bias.shape}]`);
  }
  const lead = x.shape.slice(0, -1);
  const x2 = ENGINE.makeView(x, [sizeOf(lead), K]);
  const inputs = [x2, ...stateInputs(state), ...(bias ? [bias] : [])];
  let y: Tensor;
  try {
    // The kernel converts its rounded result to x's dtype itself (no separate Cast call).
    y = ENGINE.run('Quant4MatMul', inputs, {
      blocksize: state.blocksize, N, K, dtype: computeDtype, nested: isNested(state), offset: state.offset ?? 0, hasBias: !!bias,
      outDtype: x.dtype,
    });
  } finally {
    x2.dispose();
  }
  const shaped = ENGINE.makeView(y, [...lead, N]);
  y.dispose();
  return shaped;
}

/** Frees every tensor of a 4-bit state. */
export function disposeQuant4State(state: Quant4State): void {
  for (const t of [state.packed, state.absmax, state.quantMap, state.nestedAbsmax, state.nestedQuantMap]) t?.dispose();
}

/** Bytes of the tensors of a 4-bit state (packed weight, absmax, maps, nested absmax). */
export function quant4StateBytes(state: Quant4State): number {
  let n = 0;
  for (const t of [state.packed, state.absmax, state.quantMap, state.nestedAbsmax, state.nestedQuantMap]) {
    if (t) n += t.size * (t.dtype === 'float32' ? 4 : 1);
  }
  return n;
}

function isNested(state: Quant4State): boolean {
  return state.nestedAbsmax !== undefined;
}

function stateInputs(state: Quant4State): Tensor[] {
  const t = [state.packed, state.absmax, state.quantMap];
  if (isNested(state)) t.push(state.nestedAbsmax!, state.nestedQuantMap!);
  return t;
}

/** Validates a 4-bit state's tensors against its shape and block size; errors name the field. */
export function checkQuant4State(state: Quant4State, op: string): void {
  if (!state || typeof state !== 'object') throw new ArgumentError(`${op}: 'state' must be a 4-bit quant state, got ${String(state)}`);
  checkQuantType(state.quantType, op, 'state.quantType');
  checkBlocksize(state.blocksize, op, 'state.blocksize');
  const n = sizeOf(state.shape);
  const nb = Math.ceil(n / state.blocksize);
  checkTensor(state.packed, op, 'state.packed');
  checkTensor(state.absmax, op, 'state.absmax');
  checkTensor(state.quantMap, op, 'state.quantMap');
  if (state.packed.dtype !== 'uint8' || state.packed.size !== Math.ceil(n / 2)) {
    throw new ShapeError(`${op}: 'state.packed' must be uint8 with ${Math.ceil(n / 2)} bytes for shape [${state.shape}], got ${state.packed.dtype} [${state.packed.shape}]`);
  }
  if (state.quantMap.dtype !== 'float32' || state.quantMap.size !== 16) {
    throw new ShapeError(`${op}: 'state.quantMap' must be float32 [16], got ${state.quantMap.dtype} [${state.quantMap.shape}]`);
  }
  const nested = isNested(state);
  const absDtype = nested ? 'uint8' : 'float32';
  if (state.absmax.dtype !== absDtype || state.absmax.size !== nb) {
    throw new ShapeError(`${op}: 'state.absmax' must be ${absDtype} [${nb}] (blocksize ${state.blocksize}, shape [${state.shape}]), got ${state.absmax.dtype} [${state.absmax.shape}]`);
  }
  if (nested) {
    checkTensor(state.nestedAbsmax, op, 'state.nestedAbsmax');
    checkTensor(state.nestedQuantMap, op, 'state.nestedQuantMap');
    const nn = Math.ceil(nb / NESTED_BLOCKSIZE);
    if (state.nestedAbsmax!.dtype !== 'float32' || state.nestedAbsmax!.size !== nn) {
      throw new ShapeError(`${op}: 'state.nestedAbsmax' must be float32 [${nn}], got ${state.nestedAbsmax!.dtype} [${state.nestedAbsmax!.shape}]`);
    }
    if (state.nestedQuantMap!.dtype !== 'float32' || state.nestedQuantMap!.size !== 256) {
      throw new ShapeError(`${op}: 'state.nestedQuantMap' must be float32 [256], got ${state.nestedQuantMap!.dtype} [${state.nestedQuantMap!.shape}]`);
    }
    if ((state.nestedBlocksize ?? NESTED_BLOCKSIZE) !== NESTED_BLOCKSIZE) {
      throw new ArgumentError(`${op}: 'state.nestedBlocksize' must be ${NESTED_BLOCKSIZE}, got ${state.nestedBlocksize}`);
    }
  }
}

/**
 * The one vocabulary of kernel names. Ops, backends, the conformance suite and docs all use these
 * constants; each entry says the inputs (in order) and attributes the kernel receives. Output
 * shapes and dtypes are decided by the op, which passes them in attrs where a kernel needs them.
 */

/** Elementwise one-input kernels: inputs [x]; attrs { dtype } (the output dtype). */
export const UNARY_KERNELS = [
  'Neg', 'Abs', 'Exp', 'Log', 'Sqrt', 'Rsqrt', 'Tanh', 'Sigmoid', 'Silu', 'Relu', 'Gelu', 'GeluTanh',
  'LogicalNot', 'Cast',
] as const;
export type UnaryKernel = (typeof UNARY_KERNELS)[number];

/** Elementwise two-input kernels with broadcasting: inputs [a, b]; attrs { dtype, shape } (output). */
export const BINARY_KERNELS = [
  'Add', 'Sub', 'Mul', 'Div', 'Pow', 'Maximum', 'Minimum',
  'Equal', 'NotEqual', 'Less', 'LessEqual', 'Greater', 'GreaterEqual', 'LogicalAnd', 'LogicalOr',
] as const;
export type BinaryKernel = (typeof BINARY_KERNELS)[number];

/** inputs [condition(bool), a, b]; attrs { dtype, shape }: condition ? a : b, broadcast. */
export const Where = 'Where';
/** inputs [a, b]; attrs { transposeA, transposeB, dtype, shape }: batched, batch dims broadcast. */
export const MatMul = 'MatMul';

/** Reductions: inputs [x]; attrs { axes (sorted, normalised), keepDims, dtype, shape }. */
export const REDUCE_KERNELS = ['Sum', 'Mean', 'Max', 'Min', 'ArgMax', 'ArgMin'] as const;
export type ReduceKernel = (typeof REDUCE_KERNELS)[number];

/** inputs [x]; attrs { axis }: softmax along one axis (computed in float32). */
export const Softmax = 'Softmax';
/** inputs [x]; attrs { axis }. */
export const LogSoftmax = 'LogSoftmax';
/** inputs [x, weight?, bias?]; attrs { eps, hasWeight, hasBias }: over the last axis, float32 math. */
export const LayerNorm = 'LayerNorm';
/** inputs [x, weight?]; attrs { eps, hasWeight }: over the last axis, float32 math, Hugging Face rounding. */
export const RmsNorm = 'RmsNorm';
/**
 * inputs [x (..., T, D), cos (..., T, R/2), sin (same)]; attrs { interleaved }: rotates the first
 * R features of x, pairs (i, i + R/2) (rotate-half) or (2i, 2i+1) (interleaved).
 */
export const Rope = 'Rope';

/** inputs [x, indices(int32)]; attrs { axis, shape }: out = x taken at indices along axis. */
export const Gather = 'Gather';
/** inputs [...xs]; attrs { axis, shape }. */
export const Concat = 'Concat';
/** inputs [x]; attrs { begin, size }. */
export const Slice = 'Slice';
/** inputs [x]; attrs { perm, shape }. */
export const Transpose = 'Transpose';
/** inputs [x]; attrs { shape }: broadcast x to shape (materialised). */
export const BroadcastTo = 'BroadcastTo';
/** inputs [x]; attrs { reps, shape }: repeat the whole tensor along each axis (torch `repeat`). */
export const Tile = 'Tile';
/** inputs [x]; attrs { k, upper }: keep the upper (triu) or lower (tril) triangle of the last two axes. */
export const Triangle = 'Triangle';
/** inputs [x]; attrs { k, largest }: top-k along the last axis → [values, indices(int32)], sorted. */
export const TopK = 'TopK';
/**
 * inputs [dst, src]; attrs { begin }: writes src into dst at begin, IN PLACE, returns nothing new
 * (the op returns dst). For caches; the only mutating kernel.
 */
export const WriteSlice = 'WriteSlice';
/** inputs [src (n, …), indices(int32, n)]; attrs { rows }: zeros (rows, …) with row indices[i] = src[i]. */
export const ScatterRows = 'ScatterRows';
/**
 * Fused attention kernels: inputs [q (B,H,L,E), k (B,Hkv,S,E), v (B,Hkv,S,Ev), mask?]; attrs
 * { scale, causal: 'none'|'upperLeft'|'lowerRight', enableGqa, hasMask, returnLse, kvLength } → out
 * (B,H,L,Ev) in q's dtype, or [out, lse (B,H,L) float32] with returnLse. Only the first `kvLength`
 * key positions take part (k/v may hold more: a cache); the mask's last axis spans kvLength.
 */
export const SdpaFlash = 'SdpaFlash';
export const SdpaEfficient = 'SdpaEfficient';
/**
 * inputs [q (Tq,H,E), k (Tk,Hkv,E), v (Tk,Hkv,Ev), cuSeqlensQ, cuSeqlensK (int32, B+1)];
 * attrs { scale, causal (bottom-right per sequence), maxSeqlenQ, maxSeqlenK } → (Tq, H, Ev).
 */
export const FlashAttnVarlen = 'FlashAttnVarlen';

// ---------------------------------------------------------------- quantization (docs/quantization.md)

/**
 * inputs [w (any shape, float; flattened row-major)]; attrs { quantType: 'nf4'|'fp4', blocksize }
 * → [packed uint8 [ceil(n/2), 1] (element 2j in the high nibble), absmax float32 [ceil(n/blocksize)]].
 */
export const Quantize4bit = 'Quantize4bit';
/**
 * inputs [packed uint8, absmax (float32 [nb], or uint8 [nb] codes with double quantization),
 * quantMap float32 [16], nestedAbsmax? float32 [ceil(nb/256)], nestedQuantMap? float32 [256]];
 * attrs { blocksize, shape, dtype, nested, offset } → W [shape] in dtype (w = f32(map[c]·absmax), then cast).
 */
export const Dequantize4bit = 'Dequantize4bit';
/**
 * 8-bit blockwise quantization against a sorted 256-entry map (the second level of double quant):
 * inputs [x float32 [n], map float32 [256]]; attrs { blocksize } → [codes uint8 [n], absmax float32 [nb]].
 */
export const QuantizeBlockwise8 = 'QuantizeBlockwise8';
/**
 * inputs [codes uint8 [n], absmax float32 [nb], map float32 [256]]; attrs { blocksize, offset }
 * → float32 [n]: f32(f32(map[c]·absmax[i/bs]) + offset).
 */
export const DequantizeBlockwise8 = 'DequantizeBlockwise8';
/** inputs [w (N, K) float]; → [CB int8 (N, K), SCB float32 (N)] (W cast to float16 first, SCB = row absmax). */
export const QuantizeInt8Rowwise = 'QuantizeInt8Rowwise';
/**
 * LLM.int8 activation quantization: inputs [x (T, K) float]; attrs { threshold }
 * → [CA int8 (T, K) (outlier columns zeroed), SCA float32 (T), outlierCols int32 (m), sorted].
 */
export const Int8VectorQuant = 'Int8VectorQuant';
/**
 * inputs [CA int8 (T, K), CB int8 (N, K), SCA float32 (T), SCB float32 (N), bias? (N)]; attrs { hasBias }
 * → (T, N) float16: f16(fma(f32(f32(acc)·SCA)·SCB, 1/16129, bias)) with int32 acc = Σ CA·CB.
 */
export const Int8MatMul = 'Int8MatMul';
/**
 * inputs [CB int8 (N, K), SCB float32 (N), cols? int32 (m), storedCols? int32 (s), stored? (N, s) float];
 * attrs { dtype, hasCols, hasStored } → (N, m) (or (N, K) without cols): each column is the stored
 * 16-bit copy when its index is in storedCols, else f32(f32(CB·SCB)·(1/127)); cast to dtype.
 */
export const DequantizeInt8 = 'DequantizeInt8';
/**
 * 4-bit weight matmul: inputs [x (T, K) float, packed uint8, absmax, quantMap float32 [16],
 * nestedAbsmax?, nestedQuantMap?, bias? (N)]; attrs { blocksize, N, K, dtype (compute dtype), nested,
 * offset, hasBias } → (T, N) in dtype: x and each dequantized weight element are rounded to dtype,
 * products accumulate in (at least) float32, the sum (+ bias) is rounded once. Dequantizes block by
 * block; never materialises W.
 */
export const Quant4MatMul = 'Quant4MatMul';
/** Quant4MatMul's attributes, shared by every backend's kernel. */
export interface Quant4MatMulAttrs {
  blocksize: number;
  N: number;
  K: number;
  /** The compute dtype. */
  dtype: import('./dtype.js').DType;
  nested: boolean;
  offset: number;
  hasBias: boolean;
  /**
   * The output's dtype (default: the compute dtype). The result is rounded once to the compute
   * dtype and then converted, so it equals a Cast of the compute-dtype output without the extra call.
   */
  outDtype?: import('./dtype.js').DType;
}
/**
 * Optional fused LLM.int8 Linear, for backends that cannot size Int8VectorQuant's outlier-column
 * output on the host (GPUs): inputs [x (T, K) float, CB int8 (N, K), SCB float32 (N), bias? (N),
 * storedCols? int32 (s), stored? (N, s)]; attrs { threshold, hasBias, hasStored } → (T, N) in x's
 * dtype, equal to `int8Linear`'s decomposition (int8 part rounded to float16 then x's dtype, plus
 * the x-dtype product over the outlier columns, summed in x's dtype). `int8Linear` uses it when
 * the backend registers it.
 */
export const Int8Linear = 'Int8Linear';

// ---------------------------------------------------------------- fused kernels (ops/fused.ts)

/**
 * inputs [gate, up] (same shape and float dtype) or [gateUp] (last axis: gate then up); attrs {}
 * → silu(gate)·up, with silu(gate) rounded to the dtype first, exactly as the two-op form.
 */
export const SwiGlu = 'SwiGlu';
/**
 * inputs [x, residual, weight?] (x and residual one shape and dtype; weight [D]); attrs { eps,
 * hasWeight } → [sum, normed]: sum = x + residual rounded to the dtype, normed = RmsNorm(sum)
 * with RmsNorm's numerics. The pre-norm residual step of a decoder layer in one pass.
 */
export const AddRmsNorm = 'AddRmsNorm';

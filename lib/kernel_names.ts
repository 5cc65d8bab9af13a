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

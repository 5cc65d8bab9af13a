/**
 * The numbers behind the quantized formats (docs/quantization.md §1–§2): round-half-to-even, the
 * NF4 and FP4 code tables with their encoders, and the 8-bit signed dynamic map used by double
 * quantization. Pure scalar code shared by the ops, the CPU kernels and the tests; every float32
 * step is written with `Math.fround` in the order the reference uses.
 */

const f32 = Math.fround;

/** Round to nearest, ties to even (CUDA `__float2int_rn`, `torch.round`). Never use Math.round for this. */
export function rne(x: number): number {
  const r = Math.round(x); // ties toward +∞
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Block sizes a 4-bit weight may use. */
export const BLOCKSIZES_4BIT: readonly number[] = [32, 64, 128, 256, 512, 1024, 2048, 4096];

/** Block size of the second level of double quantization (fixed by the format). */
export const NESTED_BLOCKSIZE = 256;

/** The 4-bit data types. */
export type QuantType = 'nf4' | 'fp4';

/** NF4 levels, index = 4-bit code (sorted ascending; code 7 is +0, codes 0 and 15 are ∓1). */
export const NF4_CODE: Float32Array = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
  -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
  0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
]);

/** FP4 levels in code order (bit 3 = sign, low 3 bits index the magnitude): raw values / 12. */
export const FP4_CODE: Float32Array = Float32Array.from(
  // Code 8 is stored as +0.0 (Python writes the table with the integer 0 there), as bitsandbytes saves it.
  [0, 0.0625, 8, 12, 4, 6, 2, 3, 0, -0.0625, -8, -12, -4, -6, -2, -3].map((v) => v / 12),
);

/** The code table (`quant_map`) of a 4-bit type, as stored in checkpoints. */
export function codeTable(quantType: QuantType): Float32Array {
  return quantType === 'nf4' ? NF4_CODE : FP4_CODE;
}

/** NF4 decision thresholds: float32 midpoints of consecutive levels; `x > t` selects the upper code. */
export const NF4_THRESHOLDS: Float32Array = Float32Array.from(
  Array.from({ length: 15 }, (_, i) => (NF4_CODE[i] + NF4_CODE[i + 1]) / 2),
);

/** FP4 magnitude thresholds (float32) with the magnitude code chosen above each, largest first. */
const FP4_STEPS: readonly [number, number][] = [
  [f32(0.8333333), 3], [f32(0.583333), 2], [f32(0.4166667), 5], [f32(0.29166667), 4],
  [f32(0.20833333), 7], [f32(0.0859375), 6], [f32(0.00260417), 1],
];

/** FP4 magnitude thresholds, largest first (for tests and kernels that unroll them). */
export const FP4_THRESHOLDS: Float32Array = Float32Array.from(FP4_STEPS.map((s) => s[0]));

/**
 * NF4 code of a scaled value s (= x / block absmax, a float32 in [-1, 1]): nearest level, an exact
 * tie going to the lower code; NaN gives code 0 (as the CUDA kernel does for all-zero blocks).
 */
export function encodeNf4(s: number): number {
  // Binary search over the 15 thresholds: code = number of thresholds strictly below s.
  let lo = 0;
  let hi = 15;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s > NF4_THRESHOLDS[mid]) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** FP4 code of a scaled value s: sign bit iff s < 0, magnitude by the float32 thresholds (ties go down). */
export function encodeFp4(s: number): number {
  const sign = s < 0 ? 8 : 0;
  const a = Math.abs(s);
  for (const [t, code] of FP4_STEPS) if (a > t) return sign | code;
  return sign;
}

/** Encoder of a 4-bit type. */
export function encoder(quantType: QuantType): (s: number) => number {
  return quantType === 'nf4' ? encodeNf4 : encodeFp4;
}

let dynamicMap: Float32Array | null = null;

/**
 * The 8-bit signed dynamic map (256 sorted float32 values; index 127 = 0, index 255 = 1): for
 * decade d = 0…6 the midpoints of float32 `linspace(0.1, 1, 2^d + 1)` scaled by 10^(d−6), both
 * signs, plus 0 and 1. linspace follows PyTorch's CPU kernel: a float32 step; the first half
 * counts up from the start, the second half down from the end, each point start + step·i (or
 * end − step·j) rounded once, as the fused multiply-add PyTorch's build compiles it to. Rounding
 * the product first gives 42 of the 256 values one ulp off bitsandbytes' map (found against real
 * bitsandbytes output, spec/fixtures/bitsandbytes).
 */
export function dynamicMapSigned(): Float32Array {
  if (dynamicMap) return dynamicMap;
  const vals: number[] = [];
  for (let d = 0; d < 7; d++) {
    const steps = 2 ** d + 1;
    const start = f32(0.1);
    const end = 1;
    const step = f32(f32(end - start) / (steps - 1));
    const half = Math.floor(steps / 2);
    const b = new Float32Array(steps);
    // step·i is exact in float64 and so is the sum (both span < 53 bits): one rounding, like an FMA.
    for (let i = 0; i < steps; i++) b[i] = i < half ? f32(start + step * i) : f32(end - step * (steps - i - 1));
    const scale = f32(10 ** (d - 6));
    for (let i = 0; i + 1 < steps; i++) {
      const mean = f32(f32(b[i] + b[i + 1]) / 2);
      const v = f32(scale * mean);
      vals.push(v, -v);
    }
  }
  vals.push(0, 1);
  vals.sort((a, b) => a - b);
  return (dynamicMap = Float32Array.from(vals));
}

/** Index of the level of `map` (sorted ascending) nearest to s; an exact tie goes to the lower index. */
export function encodeSorted(s: number, map: Float32Array): number {
  let lo = 0;
  let hi = map.length - 1;
  if (!(s > map[lo])) return 0; // also NaN
  if (s >= map[hi]) return hi;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (map[mid] <= s) lo = mid;
    else hi = mid;
  }
  // map[lo] ≤ s < map[hi]
  return s - map[lo] > map[hi] - s ? hi : lo;
}

/**
 * The LLM.int8 row scale for absmax m > 0: f32(127 · f32(1 / m)). This is bitsandbytes' float32
 * arithmetic: its PyTorch kernels compute `127.0 / row_stats` as reciprocal × 127 (how PyTorch
 * evaluates a scalar divided by a tensor), and the CUDA kernel's `__fdividef` also multiplies by a
 * reciprocal. At an exact .5 product it decides the code (checked against bitsandbytes' output in
 * spec/quant/bitsandbytes.spec.ts), so a correctly rounded 127 / m would not be bit-exact.
 */
export function int8Scale(m: number): number {
  return f32(127 * f32(1 / m));
}

/** Float32 constant of the int8 GEMM dequantization, 1/(127·127) (the CUDA kernel's 6.200012e-05f). */
export const INT8_MM_DEQUANT: number = f32(1 / 16129);

/** Float32 1/127, the weight dequantization factor (transformers' 7.874015718698502e-3). */
export const INT8_W_DEQUANT: number = f32(7.874015718698502e-3);

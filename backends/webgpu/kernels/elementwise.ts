/**
 * Elementwise kernels as data: each kernel name maps to a WGSL expression per compute type. Floats
 * compute in f32 (16-bit floats are unpacked, computed, rounded once), integers in i32 with
 * wrapping stores. Where the device has `shader-f16` and every operand is float16 with the same
 * layout, add/sub/mul/neg/abs/relu run natively on packed f16 pairs (bit-identical: these IEEE
 * operations are correctly rounded in f16 as in f32-then-round).
 */

import type { TensorInfo } from '../../../lib/backend.js';
import { isFloat, type DType } from '../../../lib/dtype.js';
import { BINARY_KERNELS, UNARY_KERNELS, type BinaryKernel, type UnaryKernel } from '../../../lib/kernel_names.js';
import { sizeOf, shapesEqual } from '../../../lib/shape.js';
import type { WebGPUBackend } from '../backend.js';
import { grid1d, main1d, Uniforms, type Program } from '../program.js';
import { runMap, type MapSpec } from './map.js';
import { gpuKernel } from './util.js';

const INF = 'inf_f()';
const NAN = 'nan_f()';

/** Special functions the expressions use. */
export const SPECIAL = /* wgsl */ `
fn tanh_s(x: f32) -> f32 { if (abs(x) > 15.0) { return sign(x); } return tanh(x); }
fn erf_s(x: f32) -> f32 {
  // Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), and the series term x·2/√π near 0.
  let a = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-a * a);
  if (a < 1e-3) { return x * 1.1283791670955126; }
  return select(y, -y, x < 0.0);
}
fn pow_s(a: f32, b: f32) -> f32 {
  if (b == 0.0) { return 1.0; }
  if (is_nan(a) || is_nan(b)) { return ${NAN}; }
  let integral = trunc(b) == b;
  let odd = integral && abs(b) < 16777216.0 && (i32(b) & 1) == 1;
  if (a == 0.0) {
    if (b > 0.0) { return select(0.0, a, odd); }
    let neg0 = (bitcast<u32>(a) >> 31u) == 1u;
    return select(${INF}, -${INF}, odd && neg0);
  }
  if (a < 0.0) {
    if (!integral) { return ${NAN}; }
    let r = pow(-a, b);
    return select(r, -r, odd);
  }
  return pow(a, b);
}
fn pow_i(a: i32, b: i32) -> i32 {
  if (b < 0) {
    if (a == 1) { return 1; }
    if (a == -1) { return select(1, -1, (b & 1) != 0); }
    return 0;
  }
  var r = 1; var base = a; var e = b;
  loop { if (e == 0) { break; } if ((e & 1) != 0) { r = r * base; } base = base * base; e = e >> 1u; }
  return r;
}
`;

type Expr = (x: string[]) => string;

const UNARY_F32: Record<UnaryKernel, Expr> = {
  Neg: ([a]) => `-${a}`,
  Abs: ([a]) => `abs(${a})`,
  Exp: ([a]) => `exp(${a})`,
  Log: ([a]) => `select(log(${a}), select(${NAN}, -${INF}, ${a} == 0.0), ${a} <= 0.0)`,
  Sqrt: ([a]) => `select(sqrt(${a}), select(${NAN}, ${a}, ${a} == 0.0), ${a} <= 0.0)`,
  Rsqrt: ([a]) => `select(inverseSqrt(${a}), select(${NAN}, ${INF}, ${a} == 0.0), ${a} <= 0.0)`,
  Tanh: ([a]) => `tanh_s(${a})`,
  Sigmoid: ([a]) => `1.0 / (1.0 + exp(-${a}))`,
  Silu: ([a]) => `${a} / (1.0 + exp(-${a}))`,
  Relu: ([a]) => `select(${a}, 0.0, ${a} < 0.0)`,
  Gelu: ([a]) => `0.5 * ${a} * (1.0 + erf_s(${a} * 0.7071067811865476))`,
  GeluTanh: ([a]) => `0.5 * ${a} * (1.0 + tanh_s(0.7978845608028654 * (${a} + 0.044715 * ${a} * ${a} * ${a})))`,
  LogicalNot: ([a]) => `select(0.0, 1.0, ${a} == 0.0)`,
  Cast: ([a]) => a,
};

const UNARY_I32: Partial<Record<UnaryKernel, Expr>> = {
  Neg: ([a]) => `-${a}`,
  Abs: ([a]) => `abs(${a})`,
  Relu: ([a]) => `max(${a}, 0)`,
  LogicalNot: ([a]) => `select(0, 1, ${a} == 0)`,
  Cast: ([a]) => a,
};

const cmp = (op: string): [Expr, Expr] => [([a, b]) => `select(0, 1, ${a} ${op} ${b})`, ([a, b]) => `select(0, 1, ${a} ${op} ${b})`];

/** [f32 expression, i32 expression]; comparisons and logicals yield i32 0/1. */
const BINARY: Record<BinaryKernel, [Expr, Expr]> = {
  Add: [([a, b]) => `${a} + ${b}`, ([a, b]) => `${a} + ${b}`],
  Sub: [([a, b]) => `${a} - ${b}`, ([a, b]) => `${a} - ${b}`],
  Mul: [([a, b]) => `${a} * ${b}`, ([a, b]) => `${a} * ${b}`],
  Div: [([a, b]) => `${a} / ${b}`, ([a, b]) => `${a} / ${b}`],
  Pow: [([a, b]) => `pow_s(${a}, ${b})`, ([a, b]) => `pow_i(${a}, ${b})`],
  Maximum: [([a, b]) => `select(${b}, ${a}, is_nan(${a}) || ${a} > ${b})`, ([a, b]) => `max(${a}, ${b})`],
  Minimum: [([a, b]) => `select(${b}, ${a}, is_nan(${a}) || ${a} < ${b})`, ([a, b]) => `min(${a}, ${b})`],
  Equal: cmp('=='),
  NotEqual: cmp('!='),
  Less: cmp('<'),
  LessEqual: cmp('<='),
  Greater: cmp('>'),
  GreaterEqual: cmp('>='),
  LogicalAnd: [([a, b]) => `select(0, 1, ${a} != 0.0 && ${b} != 0.0)`, ([a, b]) => `select(0, 1, ${a} != 0 && ${b} != 0)`],
  LogicalOr: [([a, b]) => `select(0, 1, ${a} != 0.0 || ${b} != 0.0)`, ([a, b]) => `select(0, 1, ${a} != 0 || ${b} != 0)`],
};

const RESULT_I32 = new Set<string>(['Equal', 'NotEqual', 'Less', 'LessEqual', 'Greater', 'GreaterEqual', 'LogicalAnd', 'LogicalOr']);

/** Ops computed natively in f16 when every operand is float16 (correctly rounded, so identical). */
const NATIVE_F16: Partial<Record<string, Expr>> = {
  Add: ([a, b]) => `${a} + ${b}`,
  Sub: ([a, b]) => `${a} - ${b}`,
  Mul: ([a, b]) => `${a} * ${b}`,
  Neg: ([a]) => `-${a}`,
  Abs: ([a]) => `abs(${a})`,
  Relu: ([a]) => `select(${a}, vec2<f16>(0.0h), ${a} < vec2<f16>(0.0h))`,
};

/** The packed-f16 fast path: operands are float16 with the output's shape, or scalars. */
function nativeF16Program(op: string, expr: Expr, inputs: readonly TensorInfo[], n: number): Program {
  const words = Math.ceil(n / 2);
  const scalar = inputs.map((t) => sizeOf(t.shape) === 1 && n > 1);
  const u = new Uniforms().u32('words', words);
  const key = `f16x2|${scalar.map((s) => (s ? 's' : 'v')).join('')}`;
  const body = () =>
    [
      main1d(256),
      `  if (idx >= u_words()) { return; }`,
      ...inputs.map((_, i) =>
        scalar[i] ? `  let x${i} = vec2<f16>(bitcast<vec2<f16>>(in${i}[0]).x);` : `  let x${i} = bitcast<vec2<f16>>(in${i}[idx]);`,
      ),
      `  out0[idx] = bitcast<u32>(${expr(inputs.map((_, i) => `x${i}`))});`,
      `}`,
    ].join('\n');
  return { name: op, key, inputs: inputs.map(() => 'u32'), outputs: ['u32'], uniforms: u, body, f16: true, grid: grid1d(words, 256) };
}

function tryNativeF16(gpu: WebGPUBackend, op: string, inputs: readonly TensorInfo[], outShape: readonly number[], dtype: DType): TensorInfo | null {
  const expr = NATIVE_F16[op];
  if (!expr || !gpu.info.f16 || !gpu.nativeF16 || dtype !== 'float16') return null;
  const n = sizeOf(outShape);
  if (n === 0) return null;
  if (!inputs.every((t) => t.dtype === 'float16' && (shapesEqual(t.shape, outShape) || sizeOf(t.shape) === 1))) return null;
  const out = gpu.makeOutput(outShape, dtype);
  gpu.run(nativeF16Program(op, expr, inputs, n), inputs, [out]);
  return out;
}

for (const kernel of UNARY_KERNELS) {
  gpuKernel(kernel, ([x], { dtype }: { dtype: DType }, gpu) => {
    const fast = tryNativeF16(gpu, kernel, [x], x.shape, dtype);
    if (fast) return fast;
    let spec: MapSpec;
    if (kernel === 'Cast') {
      const t = isFloat(x.dtype) ? 'f32' : 'i32';
      spec = { op: 'Cast', inType: t, outType: t, expr: ([a]) => a };
    } else if (!isFloat(dtype) && UNARY_I32[kernel]) {
      spec = { op: kernel, inType: 'i32', outType: 'i32', expr: UNARY_I32[kernel]! };
    } else {
      spec = { op: kernel, inType: 'f32', outType: 'f32', expr: UNARY_F32[kernel], helpers: SPECIAL };
    }
    return runMap(gpu, spec, [x], x.shape, dtype);
  });
}

for (const kernel of BINARY_KERNELS) {
  gpuKernel(kernel, ([a, b], { dtype, shape, computeDtype }: { dtype: DType; shape: number[]; computeDtype?: DType }, gpu) => {
    const fast = tryNativeF16(gpu, kernel, [a, b], shape, dtype);
    if (fast) return fast;
    const inFloat = isFloat(dtype) || (computeDtype !== undefined ? isFloat(computeDtype) : isFloat(a.dtype) || isFloat(b.dtype));
    const inType = inFloat ? 'f32' : 'i32';
    const outType = RESULT_I32.has(kernel) ? 'i32' : inType;
    const [ef, ei] = BINARY[kernel];
    return runMap(gpu, { op: kernel, inType, outType, expr: inFloat ? ef : ei, helpers: SPECIAL }, [a, b], shape, dtype);
  });
}

gpuKernel('Where', ([c, a, b], { dtype, shape }: { dtype: DType; shape: number[] }, gpu) => {
  const t = isFloat(dtype) ? 'f32' : 'i32';
  const cv = t === 'f32' ? (x: string) => `${x} != 0.0` : (x: string) => `${x} != 0`;
  return runMap(gpu, { op: 'Where', inType: t, outType: t, expr: ([x, y, z]) => `select(${z}, ${y}, ${cv(x)})` }, [c, a, b], shape, dtype);
});

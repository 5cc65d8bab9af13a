/**
 * The elementwise program template: an output element is an expression of input elements, each
 * input indexed through broadcasting strides (uniforms) after collapsing contiguous axes. Every
 * invocation produces one 32-bit output word (1, 2 or 4 elements). Kernels are data: a name, a
 * compute type and a WGSL expression (see elementwise.ts).
 */

import type { TensorInfo } from '../../../lib/backend.js';
import type { DType } from '../../../lib/dtype.js';
import { sizeOf, type Shape } from '../../../lib/shape.js';
import type { WebGPUBackend } from '../backend.js';
import { grid1d, main1d, Uniforms, type Program } from '../program.js';
import { bitsFn, COMMON, loadFn, packWord, perWord } from '../wgsl.js';
import { broadcastStrides, collapse, layoutOf, offsetCode, type Layout } from './util.js';

/** One elementwise operation. */
export interface MapSpec {
  /** Identifies the expression in the pipeline cache (e.g. the kernel name). */
  op: string;
  /** Type inputs are converted to before `expr` sees them. */
  inType: 'f32' | 'i32';
  /** Type of `expr`'s value. */
  outType: 'f32' | 'i32';
  /** WGSL expression over `x0`, `x1`, … (values of the inputs in `inType`). */
  expr: (xs: string[]) => string;
  /** Extra WGSL helper functions the expression calls. */
  helpers?: string;
}

const WG = 256;

/** Builds the program computing `spec` over `inputs` into an output of `outShape` and `outDtype`. */
export function mapProgram(spec: MapSpec, inputs: readonly TensorInfo[], outShape: Shape, outDtype: DType): Program {
  const n = sizeOf(outShape);
  const { shape, strides } = collapse(outShape, inputs.map((t) => broadcastStrides(t.shape, outShape)));
  const layouts: Layout[] = inputs.map((t, k) => layoutOf(shape, strides[k], sizeOf(t.shape)));
  const k = perWord(outDtype);
  const u = new Uniforms().u32('n', n);
  const strided = layouts.flatMap((l, i) => (l === 'strided' ? [i] : []));
  if (strided.length) {
    u.u32('shape', shape);
    for (const i of strided) u.u32(`str${i}`, strides[i]);
  }
  const rank = strided.length ? shape.length : 0;
  const key = `${spec.op}|${spec.inType}>${spec.outType}|${inputs.map((t, i) => `${t.dtype}:${layouts[i]}`).join(',')}|r${rank}|${outDtype}`;
  const body = () => {
    const xs = inputs.map((_, i) => `x${i}`);
    const loads = inputs
      .map((_, i) => `let x${i} = ld${i}(${layouts[i] === 'same' ? 'o' : layouts[i] === 'scalar' ? '0u' : `off${i}`});`)
      .join('\n    ');
    return [
      COMMON,
      spec.helpers ?? '',
      ...inputs.map((t, i) => loadFn(`ld${i}`, `in${i}`, t.dtype, spec.inType)),
      bitsFn('to_bits', outDtype, spec.outType),
      `fn value(o: u32) -> ${spec.outType} {`,
      `    ${offsetCode(rank, strided)}`,
      `    ${loads}`,
      `    return ${spec.expr(xs)};`,
      `}`,
      main1d(WG),
      `  let base = idx * ${k}u;`,
      `  if (base >= u_n()) { return; }`,
      `  out0[idx] = ${packWord(outDtype, 'to_bits', (j) => `value(min(base + ${j}u, u_n() - 1u))`, 'base', 'u_n()')};`,
      `}`,
    ].join('\n');
  };
  return { name: spec.op, key, inputs: inputs.map(() => 'u32'), outputs: ['u32'], uniforms: u, body, grid: grid1d(Math.ceil(n / k), WG) };
}

/** Runs an elementwise op, allocating its output. */
export function runMap(gpu: WebGPUBackend, spec: MapSpec, inputs: readonly TensorInfo[], outShape: Shape, outDtype: DType): TensorInfo {
  const out = gpu.makeOutput(outShape, outDtype);
  if (sizeOf(outShape) > 0) gpu.run(mapProgram(spec, inputs, outShape, outDtype), inputs, [out]);
  return out;
}

/** Copy with dtype conversion (PyTorch cast rules), used by kernels that compute into float32 temporaries. */
export function castTo(gpu: WebGPUBackend, x: TensorInfo, dtype: DType): TensorInfo {
  const t = x.dtype === 'float32' || x.dtype === 'float16' || x.dtype === 'bfloat16' ? 'f32' : 'i32';
  return runMap(gpu, { op: 'Cast', inType: t, outType: t, expr: ([a]) => a }, [x], x.shape, dtype);
}

/**
 * Runs `compute` into a float32 temporary when the kernel cannot write `dtype` directly (rows not
 * word-aligned), then casts into the real output; otherwise computes straight into the output.
 */
export function viaWide(gpu: WebGPUBackend, shape: Shape, dtype: DType, wide: boolean, compute: (out: TensorInfo) => void): TensorInfo {
  if (!wide) {
    const out = gpu.makeOutput(shape, dtype);
    compute(out);
    return out;
  }
  const tmp = gpu.makeTemp(shape, 'float32');
  compute(tmp);
  const out = castTo(gpu, tmp, dtype);
  gpu.disposeTemp(tmp);
  return out;
}

/**
 * WebAssembly fast paths of the row kernels: RmsNorm, AddRmsNorm, LayerNorm, Softmax (last
 * axis) and Rope (x (…, H, T, D) with cos/sin broadcast over heads). Parameters must share x's
 * float dtype; anything else returns null and runs on the TypeScript reference.
 */

import type { TensorInfo } from '../../../lib/backend.js';
import { sizeOf } from '../../../lib/shape.js';
import type { CpuBackend } from '../backend.js';
import { countCall } from '../config.js';
import { sharesFor } from './elementwise_wasm.js';
import { cpuFastPath, floatKind, ptrOf } from './util.js';

/** Row jobs go parallel from this many elements (a norm reads a row ~3 times; softmax does 2 exps per element). */
const ROWS_PARALLEL_MIN = 1 << 15;
/** float32 argument bits of the rmsNorm / addRmsNorm / layerNorm calls (eps). */
const EPS_RMS = 1 << 5;
const EPS_ADD_RMS = 1 << 7;
const EPS_LN = 1 << 6;

function lastDim(t: TensorInfo): number {
  return t.shape.length ? t.shape[t.shape.length - 1] : 1;
}

cpuFastPath('RmsNorm', (inputs, { eps, hasWeight }: { eps: number; hasWeight: boolean }, cpu: CpuBackend) => {
  const [x] = inputs;
  const kind = floatKind(x.dtype);
  const n = sizeOf(x.shape);
  if (kind < 0 || n === 0 || (hasWeight && inputs[1].dtype !== x.dtype)) return null;
  const rt = cpu.wasm();
  if (!rt) return null;
  const D = lastDim(x);
  const out = cpu.makeOutput(x.shape, x.dtype);
  rt.run('rmsNorm', sharesFor(rt, n, ROWS_PARALLEL_MIN), [ptrOf(x), hasWeight ? ptrOf(inputs[1]) : 0, ptrOf(out), n / D, D, eps, kind], EPS_RMS);
  countCall('wasm', 'RmsNorm');
  return out;
});

cpuFastPath('AddRmsNorm', (inputs, { eps, hasWeight }: { eps: number; hasWeight: boolean }, cpu: CpuBackend) => {
  const [x, res] = inputs;
  const kind = floatKind(x.dtype);
  const n = sizeOf(x.shape);
  if (kind < 0 || n === 0 || (hasWeight && inputs[2].dtype !== x.dtype)) return null;
  const rt = cpu.wasm();
  if (!rt) return null;
  const D = lastDim(x);
  const sum = cpu.makeOutput(x.shape, x.dtype);
  const out = cpu.makeOutput(x.shape, x.dtype);
  rt.run('addRmsNorm', sharesFor(rt, n, ROWS_PARALLEL_MIN),
    [ptrOf(x), ptrOf(res), hasWeight ? ptrOf(inputs[2]) : 0, ptrOf(sum), ptrOf(out), n / D, D, eps, kind], EPS_ADD_RMS);
  countCall('wasm', 'AddRmsNorm');
  return [sum, out];
});

cpuFastPath('LayerNorm', (inputs, { eps, hasWeight, hasBias }: { eps: number; hasWeight: boolean; hasBias: boolean }, cpu: CpuBackend) => {
  const [x] = inputs;
  const kind = floatKind(x.dtype);
  const n = sizeOf(x.shape);
  const w = hasWeight ? inputs[1] : null;
  const b = hasBias ? inputs[hasWeight ? 2 : 1] : null;
  if (kind < 0 || n === 0 || (w && w.dtype !== x.dtype) || (b && b.dtype !== x.dtype)) return null;
  const rt = cpu.wasm();
  if (!rt) return null;
  const D = lastDim(x);
  const out = cpu.makeOutput(x.shape, x.dtype);
  rt.run('layerNorm', sharesFor(rt, n, ROWS_PARALLEL_MIN), [ptrOf(x), w ? ptrOf(w) : 0, b ? ptrOf(b) : 0, ptrOf(out), n / D, D, eps, kind], EPS_LN);
  countCall('wasm', 'LayerNorm');
  return out;
});

cpuFastPath('Softmax', ([x], { axis }: { axis: number }, cpu: CpuBackend) => {
  const kind = floatKind(x.dtype);
  const n = sizeOf(x.shape);
  if (kind < 0 || n === 0 || axis !== x.shape.length - 1) return null;
  const rt = cpu.wasm();
  if (!rt) return null;
  const D = lastDim(x);
  const out = cpu.makeOutput(x.shape, x.dtype);
  rt.run('softmax', sharesFor(rt, n, ROWS_PARALLEL_MIN / 4), [ptrOf(x), ptrOf(out), n / D, D, kind, kind]);
  countCall('wasm', 'Softmax');
  return out;
});

cpuFastPath('Rope', ([x, cos, sin], { interleaved }: { interleaved: boolean }, cpu: CpuBackend) => {
  const kind = floatKind(x.dtype);
  const n = sizeOf(x.shape);
  if (kind < 0 || n === 0 || cos.dtype !== x.dtype || sin.dtype !== x.dtype || x.shape.length > 4) return null;
  // x as (n0, n1, T, D); cos as (c0, c1, T, half) with c0 ∈ {1, n0}, c1 ∈ {1, n1}.
  const xs = [1, 1, 1, 1, ...x.shape].slice(-4);
  if (cos.shape.length > 4) return null;
  const cs = [1, 1, 1, 1, ...cos.shape].slice(-4);
  const [n0, n1, T, D] = xs;
  const half = cs[3];
  if (cs[2] !== T || (cs[0] !== 1 && cs[0] !== n0) || (cs[1] !== 1 && cs[1] !== n1)) return null;
  const rt = cpu.wasm();
  if (!rt) return null;
  const s1 = cs[1] === 1 ? 0 : T;
  const s0 = cs[0] === 1 ? 0 : cs[1] * T;
  const out = cpu.makeOutput(x.shape, x.dtype);
  rt.run('rope', sharesFor(rt, n, ROWS_PARALLEL_MIN),
    [ptrOf(x), ptrOf(cos), ptrOf(sin), ptrOf(out), n0, n1, T, D, half, s0, s1, interleaved ? 1 : 0, kind]);
  countCall('wasm', 'Rope');
  return out;
});

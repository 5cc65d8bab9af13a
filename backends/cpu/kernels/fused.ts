/** CPU reference kernels of the fused ops (ops/fused.ts): compositions of the primitives' reference math. */

import type { TensorInfo } from '../../../lib/backend.js';
import { getKernel } from '../../../lib/backend.js';
import type { DType } from '../../../lib/dtype.js';
import { decodeBf16, decodeF16, encodeBf16, encodeF16 } from '../../../lib/float16.js';
import { sizeOf } from '../../../lib/shape.js';
import { cpuKernel, readF32, storeNumbers } from './util.js';

/** Values rounded to `dtype` (through float32, as the reference kernels store them) and widened back. */
function roundTo(v: Float32Array, dtype: DType): Float32Array {
  if (dtype === 'float16') return decodeF16(encodeF16(v, new Uint16Array(v.length)));
  if (dtype === 'bfloat16') return decodeBf16(encodeBf16(v, new Uint16Array(v.length)));
  return v;
}

cpuKernel('SwiGlu', (inputs, _attrs, cpu) => {
  const g = inputs[0];
  const fused = inputs.length === 1;
  const last = g.shape[g.shape.length - 1];
  const cols = fused ? last / 2 : last;
  const shape = fused ? [...g.shape.slice(0, -1), cols] : g.shape;
  const out = cpu.makeOutput(shape, g.dtype);
  const gv = readF32(cpu, g);
  const uv = fused ? gv : readF32(cpu, inputs[1]);
  const n = sizeOf(shape);
  const rows = cols ? n / cols : 0;
  const pitch = fused ? 2 * cols : cols;
  const upOff = fused ? cols : 0;
  const act = new Float32Array(n);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const x = gv[r * pitch + c];
      act[r * cols + c] = x / (1 + Math.exp(-x));
    }
  }
  const a = roundTo(act, g.dtype); // silu(gate) as its own tensor would hold it
  const prod = new Float32Array(n);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) prod[r * cols + c] = a[r * cols + c] * uv[r * pitch + upOff + c];
  }
  storeNumbers(cpu, out, prod);
  return out;
});

cpuKernel('AddRmsNorm', (inputs, attrs: { eps: number; hasWeight: boolean }, cpu) => {
  const [x, res] = inputs;
  const sum: TensorInfo = cpu.makeOutput(x.shape, x.dtype);
  const a = readF32(cpu, x);
  const b = readF32(cpu, res);
  const s = new Float64Array(a.length);
  for (let i = 0; i < s.length; i++) s[i] = a[i] + b[i];
  storeNumbers(cpu, sum, Float32Array.from(s));
  // RmsNorm's own kernel on the rounded sum: the same numerics by construction.
  const normed = getKernel('RmsNorm', 'cpu').kernelFunc(attrs.hasWeight ? [sum, inputs[2]] : [sum], attrs, cpu) as TensorInfo;
  return [sum, normed];
});

/** CPU reference kernels for elementwise math: unary, binary with broadcasting, where, cast. */

import type { TensorInfo } from '../../../lib/backend.js';
import { BINARY_KERNELS, UNARY_KERNELS, type BinaryKernel, type UnaryKernel } from '../../../lib/kernel_names.js';
import { geluErf, geluTanh } from '../../../lib/math.js';
import { sizeOf, type Shape } from '../../../lib/shape.js';
import type { CpuBackend } from '../backend.js';
import { broadcastIndex, computesInF32, cpuKernel, readNum, storeNumbers, writeF32, type NumArray } from './util.js';

/** Input values expanded to the output's size when broadcast (the reference path favours simple loops). */
function expanded(cpu: CpuBackend, t: TensorInfo, outShape: Shape): ArrayLike<number> {
  const v = readNum(cpu, t);
  const idx = broadcastIndex(t.shape, outShape);
  if (!idx) return v;
  if (v.length === 1) return new Float64Array(idx.length).fill(v[0]);
  const out = new Float64Array(idx.length);
  for (let i = 0; i < idx.length; i++) out[i] = v[idx[i]];
  return out;
}

function unary(kernel: UnaryKernel, x: ArrayLike<number>, o: NumArray): void {
  const n = o.length;
  switch (kernel) {
    case 'Neg': for (let i = 0; i < n; i++) o[i] = -x[i]; break;
    case 'Abs': for (let i = 0; i < n; i++) o[i] = Math.abs(x[i]); break;
    case 'Exp': for (let i = 0; i < n; i++) o[i] = Math.exp(x[i]); break;
    case 'Log': for (let i = 0; i < n; i++) o[i] = Math.log(x[i]); break;
    case 'Sqrt': for (let i = 0; i < n; i++) o[i] = Math.sqrt(x[i]); break;
    case 'Rsqrt': for (let i = 0; i < n; i++) o[i] = 1 / Math.sqrt(x[i]); break;
    case 'Tanh': for (let i = 0; i < n; i++) o[i] = Math.tanh(x[i]); break;
    case 'Sigmoid': for (let i = 0; i < n; i++) o[i] = 1 / (1 + Math.exp(-x[i])); break;
    case 'Silu': for (let i = 0; i < n; i++) o[i] = x[i] / (1 + Math.exp(-x[i])); break;
    case 'Relu': for (let i = 0; i < n; i++) o[i] = x[i] < 0 ? 0 : x[i]; break;
    case 'Gelu': for (let i = 0; i < n; i++) o[i] = geluErf(x[i]); break;
    case 'GeluTanh': for (let i = 0; i < n; i++) o[i] = geluTanh(x[i]); break;
    case 'LogicalNot': for (let i = 0; i < n; i++) o[i] = x[i] ? 0 : 1; break;
    case 'Cast': for (let i = 0; i < n; i++) o[i] = x[i]; break;
  }
}

for (const kernel of UNARY_KERNELS) {
  cpuKernel(kernel, ([x], { dtype }, cpu) => {
    const out = cpu.makeOutput(x.shape, dtype);
    const xv = readNum(cpu, x);
    // Cast stores the exact input values with one rounding (int32 → bfloat16 through a float32
    // buffer would round twice).
    if (kernel === 'Cast') storeNumbers(cpu, out, xv);
    else if (computesInF32(dtype)) writeF32(cpu, out, (o) => unary(kernel, xv, o));
    else {
      const tmp = new Float64Array(xv.length);
      unary(kernel, xv, tmp);
      storeNumbers(cpu, out, tmp);
    }
    return out;
  });
}

const isNaN = Number.isNaN;

function binary(kernel: BinaryKernel, a: ArrayLike<number>, b: ArrayLike<number>, o: NumArray, int32: boolean): void {
  const n = o.length;
  switch (kernel) {
    case 'Add': for (let i = 0; i < n; i++) o[i] = a[i] + b[i]; break;
    case 'Sub': for (let i = 0; i < n; i++) o[i] = a[i] - b[i]; break;
    case 'Mul':
      if (int32) for (let i = 0; i < n; i++) o[i] = Math.imul(a[i], b[i]); // wraps like int32 hardware
      else for (let i = 0; i < n; i++) o[i] = a[i] * b[i];
      break;
    case 'Div': for (let i = 0; i < n; i++) o[i] = a[i] / b[i]; break;
    case 'Pow': for (let i = 0; i < n; i++) o[i] = Math.pow(a[i], b[i]); break;
    case 'Maximum': for (let i = 0; i < n; i++) o[i] = isNaN(a[i]) || a[i] > b[i] ? a[i] : b[i]; break;
    case 'Minimum': for (let i = 0; i < n; i++) o[i] = isNaN(a[i]) || a[i] < b[i] ? a[i] : b[i]; break;
    case 'Equal': for (let i = 0; i < n; i++) o[i] = a[i] === b[i] ? 1 : 0; break;
    case 'NotEqual': for (let i = 0; i < n; i++) o[i] = a[i] !== b[i] ? 1 : 0; break;
    case 'Less': for (let i = 0; i < n; i++) o[i] = a[i] < b[i] ? 1 : 0; break;
    case 'LessEqual': for (let i = 0; i < n; i++) o[i] = a[i] <= b[i] ? 1 : 0; break;
    case 'Greater': for (let i = 0; i < n; i++) o[i] = a[i] > b[i] ? 1 : 0; break;
    case 'GreaterEqual': for (let i = 0; i < n; i++) o[i] = a[i] >= b[i] ? 1 : 0; break;
    case 'LogicalAnd': for (let i = 0; i < n; i++) o[i] = a[i] && b[i] ? 1 : 0; break;
    case 'LogicalOr': for (let i = 0; i < n; i++) o[i] = a[i] || b[i] ? 1 : 0; break;
  }
}

for (const kernel of BINARY_KERNELS) {
  cpuKernel(kernel, ([a, b], { dtype, shape }, cpu) => {
    const out = cpu.makeOutput(shape, dtype);
    const av = expanded(cpu, a, shape);
    const bv = expanded(cpu, b, shape);
    if (computesInF32(dtype)) writeF32(cpu, out, (o) => binary(kernel, av, bv, o, false));
    else if (dtype === 'int32' || dtype === 'bool') binary(kernel, av, bv, cpu.viewOf(out) as Int32Array, dtype === 'int32');
    else {
      const tmp = new Float64Array(sizeOf(shape));
      binary(kernel, av, bv, tmp, false);
      storeNumbers(cpu, out, tmp);
    }
    return out;
  });
}

cpuKernel('Where', ([c, a, b], { dtype, shape }, cpu) => {
  const out = cpu.makeOutput(shape, dtype);
  const cv = expanded(cpu, c, shape);
  const av = expanded(cpu, a, shape);
  const bv = expanded(cpu, b, shape);
  const n = sizeOf(shape);
  const tmp = new Float64Array(n);
  for (let i = 0; i < n; i++) tmp[i] = cv[i] ? av[i] : bv[i];
  if (computesInF32(dtype)) writeF32(cpu, out, (o) => o.set(tmp));
  else storeNumbers(cpu, out, tmp);
  return out;
});

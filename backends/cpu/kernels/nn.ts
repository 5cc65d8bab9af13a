/** CPU reference kernels for normalisation, rotary embedding and top-k. */

import { sizeOf } from '../../../lib/shape.js';
import { broadcastIndex, cpuKernel, readF32, readNum, storeNumbers, writeF32 } from './util.js';

cpuKernel('LayerNorm', (inputs, { eps, hasWeight, hasBias }, cpu) => {
  const [x] = inputs;
  const out = cpu.makeOutput(x.shape, x.dtype);
  const v = readF32(cpu, x);
  const w = hasWeight ? readF32(cpu, inputs[1]) : null;
  const b = hasBias ? readF32(cpu, inputs[hasWeight ? 2 : 1]) : null;
  const D = x.shape[x.shape.length - 1];
  const rows = D ? v.length / D : 0;
  writeF32(cpu, out, (o) => {
    for (let r = 0; r < rows; r++) {
      const base = r * D;
      let mean = 0;
      for (let i = 0; i < D; i++) mean += v[base + i];
      mean /= D;
      let varSum = 0;
      for (let i = 0; i < D; i++) {
        const d = v[base + i] - mean;
        varSum += d * d;
      }
      const inv = 1 / Math.sqrt(varSum / D + eps);
      for (let i = 0; i < D; i++) {
        let y = (v[base + i] - mean) * inv;
        if (w) y *= w[i];
        if (b) y += b[i];
        o[base + i] = y;
      }
    }
  });
  return out;
});

cpuKernel('RmsNorm', (inputs, { eps, hasWeight }, cpu) => {
  const [x] = inputs;
  const out = cpu.makeOutput(x.shape, x.dtype);
  const v = readF32(cpu, x);
  const w = hasWeight ? readF32(cpu, inputs[1]) : null;
  const D = x.shape[x.shape.length - 1];
  const rows = D ? v.length / D : 0;
  const normed = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) {
    const base = r * D;
    let ss = 0;
    for (let i = 0; i < D; i++) ss += v[base + i] * v[base + i];
    const inv = 1 / Math.sqrt(ss / D + eps);
    for (let i = 0; i < D; i++) normed[base + i] = v[base + i] * inv;
  }
  if (!w) {
    storeNumbers(cpu, out, normed);
    return out;
  }
  // Hugging Face rounds the normalised value to x's dtype before scaling by the weight.
  if (x.dtype !== 'float32') {
    storeNumbers(cpu, out, normed);
    const rounded = readF32(cpu, out);
    normed.set(rounded);
  }
  writeF32(cpu, out, (o) => {
    for (let i = 0; i < normed.length; i++) o[i] = normed[i] * w[i % D];
  });
  return out;
});

cpuKernel('Rope', ([x, cos, sin], { interleaved }, cpu) => {
  const out = cpu.makeOutput(x.shape, x.dtype);
  const v = readF32(cpu, x);
  const D = x.shape[x.shape.length - 1];
  const half = cos.shape[cos.shape.length - 1];
  const rows = D ? v.length / D : 0;
  // Map each (row, pair) of x to its cos/sin element through broadcasting.
  const angleShape = [...x.shape.slice(0, -1), half];
  const idx = broadcastIndex(cos.shape, angleShape);
  const c = readF32(cpu, cos);
  const s = readF32(cpu, sin);
  writeF32(cpu, out, (o) => {
    o.set(v);
    for (let r = 0; r < rows; r++) {
      for (let p = 0; p < half; p++) {
        const k = idx ? idx[r * half + p] : r * half + p;
        const i0 = r * D + (interleaved ? 2 * p : p);
        const i1 = r * D + (interleaved ? 2 * p + 1 : p + half);
        const a = v[i0];
        const b = v[i1];
        o[i0] = a * c[k] - b * s[k];
        o[i1] = b * c[k] + a * s[k];
      }
    }
  });
  return out;
});

cpuKernel('TopK', ([x], { k, largest }, cpu) => {
  const n = x.shape[x.shape.length - 1];
  const rows = n ? sizeOf(x.shape) / n : sizeOf(x.shape.slice(0, -1));
  const shape = [...x.shape.slice(0, -1), k];
  const values = cpu.makeOutput(shape, x.dtype);
  const indices = cpu.makeOutput(shape, 'int32');
  const v = readNum(cpu, x);
  const vals = new Float64Array(rows * k);
  const ids = cpu.viewOf(indices) as Int32Array;
  const order = new Int32Array(n);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    for (let i = 0; i < n; i++) order[i] = i;
    // NaN counts as larger than everything, +Inf included (PyTorch): first when largest, last
    // when smallest. Ties keep the lower index first.
    const sorted = Array.from(order).sort((p, q) => {
      const a = v[base + p];
      const b = v[base + q];
      const an = Number.isNaN(a);
      const bn = Number.isNaN(b);
      if (an || bn) {
        if (an && bn) return p - q;
        return (an ? -1 : 1) * (largest ? 1 : -1);
      }
      const d = largest ? b - a : a - b;
      return d === 0 || Number.isNaN(d) ? p - q : d; // NaN here: equal infinities
    });
    for (let j = 0; j < k; j++) {
      vals[r * k + j] = v[base + sorted[j]];
      ids[r * k + j] = sorted[j];
    }
  }
  storeNumbers(cpu, values, vals);
  return [values, indices];
});

/**
 * CPU reference kernels (TypeScript) for the fused attention implementations: memory-efficient
 * and flash share one online-softmax loop over key blocks (never an L×S buffer), plus the
 * variable-length entry point and the row scatter used by `padInput`.
 */

import type { TensorInfo } from '../../../lib/backend.js';
import { sizeOf, stridesOf } from '../../../lib/shape.js';
import type { CpuBackend } from '../backend.js';
import { cpuKernel, readF32, readNum, writeF32 } from './util.js';

const BC = 64; // key block

/** One query row's attention; `maskAt(j)` gives the additive bias of key j (or undefined for none). */
interface RowJob {
  q: Float32Array; qOff: number;
  k: Float32Array; kOff: number; kStride: number;
  v: Float32Array; vOff: number; vStride: number;
  o: Float32Array; oOff: number;
  E: number; Ev: number; S: number;
  /** Keys j < keyEnd are visible (causal bound); S when not causal. */
  keyEnd: number;
  scale: number;
  bias: Float32Array | null; biasOff: number; biasStride: number; biasIsBool: boolean;
}

const scores = new Float64Array(BC);
let acc = new Float64Array(256);

/** Online softmax over key blocks for one row; writes the output row and returns the logsumexp. */
function attendRow(j: RowJob): number {
  const { q, qOff, k, v, o, oOff, E, Ev, scale } = j;
  if (acc.length < Ev) acc = new Float64Array(Ev);
  acc.fill(0, 0, Ev);
  let m = -Infinity;
  let l = 0;
  for (let c0 = 0; c0 < j.keyEnd; c0 += BC) {
    const c1 = Math.min(c0 + BC, j.keyEnd);
    let blockMax = -Infinity;
    for (let c = c0; c < c1; c++) {
      const kr = j.kOff + c * j.kStride;
      let s = 0;
      for (let e = 0; e < E; e++) s += q[qOff + e] * k[kr + e];
      s *= scale;
      if (j.bias) {
        const b = j.bias[j.biasOff + c * j.biasStride];
        if (j.biasIsBool) s = b ? s : -Infinity;
        else s += b;
      }
      scores[c - c0] = s;
      if (s > blockMax) blockMax = s;
    }
    if (blockMax === -Infinity) continue; // every key of the block masked
    const mNew = Math.max(m, blockMax);
    const alpha = Math.exp(m - mNew); // 0 when m = −∞
    l *= alpha;
    for (let e = 0; e < Ev; e++) acc[e] *= alpha;
    for (let c = c0; c < c1; c++) {
      const p = Math.exp(scores[c - c0] - mNew);
      if (p === 0) continue;
      l += p;
      const vr = j.vOff + c * j.vStride;
      for (let e = 0; e < Ev; e++) acc[e] += p * v[vr + e];
    }
    m = mNew;
  }
  if (l === 0) {
    o.fill(0, oOff, oOff + Ev);
    return Infinity;
  }
  for (let e = 0; e < Ev; e++) o[oOff + e] = acc[e] / l;
  return m + Math.log(l);
}

/** Strides of a mask broadcast to (B, H, L, S): 0 on broadcast axes. */
function maskStrides(mask: TensorInfo): number[] {
  const full = [1, 1, 1, 1];
  const shape = [...new Array(4 - mask.shape.length).fill(1), ...mask.shape];
  const str = stridesOf(shape);
  return full.map((_, i) => (shape[i] === 1 ? 0 : str[i]));
}

function fused(inputs: readonly TensorInfo[], attrs: { scale: number; causal: string; hasMask: boolean; returnLse: boolean; kvLength?: number }, cpu: CpuBackend) {
  const [qi, ki, vi] = inputs;
  const [B, Hq, L, E] = qi.shape;
  const [, Hkv, SAlloc] = ki.shape;
  const S = attrs.kvLength ?? SAlloc;
  const Ev = vi.shape[3];
  const out = cpu.makeOutput([B, Hq, L, Ev], qi.dtype);
  const lseOut = attrs.returnLse ? cpu.makeOutput([B, Hq, L], 'float32') : null;
  const q = readF32(cpu, qi);
  const k = readF32(cpu, ki);
  const v = readF32(cpu, vi);
  const maskInfo = attrs.hasMask ? inputs[3] : null;
  const bias = maskInfo ? Float32Array.from(readNum(cpu, maskInfo)) : null;
  const ms = maskInfo ? maskStrides(maskInfo) : [0, 0, 0, 0];
  const off = attrs.causal === 'lowerRight' ? S - L : 0;
  const lse = new Float32Array(B * Hq * L);
  writeF32(cpu, out, (o) => {
    const job: RowJob = {
      q, qOff: 0, k, kOff: 0, kStride: E, v, vOff: 0, vStride: Ev, o, oOff: 0, E, Ev, S, keyEnd: S,
      scale: attrs.scale, bias, biasOff: 0, biasStride: ms[3], biasIsBool: maskInfo?.dtype === 'bool',
    };
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < Hq; h++) {
        const g = Math.floor((h * Hkv) / Hq); // kv head of query head h (repeat-interleave)
        job.kOff = ((b * Hkv + g) * SAlloc) * E;
        job.vOff = ((b * Hkv + g) * SAlloc) * Ev;
        for (let i = 0; i < L; i++) {
          job.qOff = ((b * Hq + h) * L + i) * E;
          job.oOff = ((b * Hq + h) * L + i) * Ev;
          job.keyEnd = attrs.causal === 'none' ? S : Math.max(0, Math.min(S, i + off + 1));
          job.biasOff = b * ms[0] + h * ms[1] + i * ms[2];
          lse[(b * Hq + h) * L + i] = attendRow(job);
        }
      }
    }
  });
  if (lseOut) (cpu.viewOf(lseOut) as Float32Array).set(lse);
  return lseOut ? [out, lseOut] : out;
}

cpuKernel('SdpaEfficient', fused);
cpuKernel('SdpaFlash', fused);

cpuKernel('FlashAttnVarlen', ([qi, ki, vi, cqi, cki], { scale, causal }, cpu) => {
  const [totalQ, H, E] = qi.shape;
  const [, Hkv] = ki.shape;
  const Ev = vi.shape[2];
  const out = cpu.makeOutput([totalQ, H, Ev], qi.dtype);
  const q = readF32(cpu, qi);
  const k = readF32(cpu, ki);
  const v = readF32(cpu, vi);
  const cuQ = Int32Array.from(cpu.viewOf(cqi) as Int32Array);
  const cuK = Int32Array.from(cpu.viewOf(cki) as Int32Array);
  writeF32(cpu, out, (o) => {
    const job: RowJob = {
      q, qOff: 0, k, kOff: 0, kStride: Hkv * E, v, vOff: 0, vStride: Hkv * Ev, o, oOff: 0, E, Ev, S: 0, keyEnd: 0,
      scale, bias: null, biasOff: 0, biasStride: 0, biasIsBool: false,
    };
    for (let b = 0; b + 1 < cuQ.length; b++) {
      const lq = cuQ[b + 1] - cuQ[b];
      const lk = cuK[b + 1] - cuK[b];
      for (let h = 0; h < H; h++) {
        const g = Math.floor((h * Hkv) / H);
        job.kOff = cuK[b] * Hkv * E + g * E;
        job.vOff = cuK[b] * Hkv * Ev + g * Ev;
        for (let i = 0; i < lq; i++) {
          job.qOff = ((cuQ[b] + i) * H + h) * E;
          job.oOff = ((cuQ[b] + i) * H + h) * Ev;
          job.keyEnd = causal ? Math.max(0, Math.min(lk, i + lk - lq + 1)) : lk;
          attendRow(job);
        }
      }
    }
  });
  return out;
});

cpuKernel('ScatterRows', ([src, indices], { rows }, cpu) => {
  const row = sizeOf(src.shape.slice(1));
  const out = cpu.makeOutput([rows, ...src.shape.slice(1)], src.dtype);
  const s = cpu.viewOf(src);
  const o = cpu.viewOf(out);
  const idx = cpu.viewOf(indices) as Int32Array;
  o.fill(0);
  for (let i = 0; i < idx.length; i++) o.set(s.subarray(i * row, (i + 1) * row), idx[i] * row);
  return out;
});

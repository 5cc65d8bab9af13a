/**
 * The kernels' float16/bfloat16 ↔ float32 conversions, bit for bit against lib/float16.ts: every
 * one of the 65,536 half patterns one way, and a wide sample of float32 patterns (every
 * exponent, ties, overflow, NaN payloads) the other way.
 */

import { expect } from 'chai';
import { ENGINE } from '../../../lib/engine.js';
import { bf16BitsToNumber, f16BitsToNumber, numberToBf16Bits, numberToF16Bits } from '../../../lib/float16.js';
import { Random } from '../../../lib/random.js';
import type { CpuBackend } from '../../../backends/cpu/backend.js';

function runtime() {
  const cpu = ENGINE.backendSync('cpu') as CpuBackend;
  const rt = cpu.wasm();
  if (!rt) throw new Error('WebAssembly kernels unavailable');
  return { cpu, rt };
}

/** float32 sample: all sign/exponent combinations × interesting mantissas, plus random bits. */
function f32Sample(): Uint32Array {
  const out: number[] = [];
  const mants = [0, 1, 2, 0xfff, 0x1000, 0x1001, 0x1fff, 0x2000, 0x3000, 0x7fff, 0x8000, 0x8001, 0xffff, 0x10000, 0x18000, 0x400000, 0x7fe000, 0x7ff000, 0x7fffff];
  for (let s = 0; s < 2; s++) for (let e = 0; e < 256; e++) for (const m of mants) out.push(((s << 31) | (e << 23) | m) >>> 0);
  const rng = new Random(7);
  for (let i = 0; i < 1 << 18; i++) out.push(rng.nextUint32());
  return Uint32Array.from(out);
}

describe('cpu WebAssembly conversions', () => {
  for (const [kind, name, decode] of [[1, 'float16', f16BitsToNumber], [2, 'bfloat16', bf16BitsToNumber]] as const) {
    it(`${name} → float32 is exact on all 65,536 patterns`, () => {
      const { cpu, rt } = runtime();
      const n = 65536 + 5; // a tail that is not a multiple of 8
      const src = cpu.allocScratch(n * 2), dst = cpu.allocScratch(n * 4);
      try {
        for (let i = 0; i < n; i++) cpu.heap.u16[(src >> 1) + i] = i & 0xffff;
        for (const threads of [1, 3]) {
          rt.run('halfToF32', threads, [src, dst, n, kind]);
          const f = cpu.heap.f32.subarray(dst >> 2, (dst >> 2) + n);
          for (let i = 0; i < n; i++) {
            const want = decode(i & 0xffff);
            if (Number.isNaN(want)) expect(f[i], `pattern ${i}`).to.be.NaN;
            else expect(Object.is(f[i], want), `pattern 0x${i.toString(16)}: got ${f[i]}, want ${want}`).to.equal(true);
          }
        }
      } finally {
        cpu.freeScratch(src, n * 2);
        cpu.freeScratch(dst, n * 4);
      }
    });

    it(`float32 → ${name} rounds to nearest even exactly like lib/float16`, () => {
      const { cpu, rt } = runtime();
      const bits = f32Sample();
      const n = bits.length;
      const src = cpu.allocScratch(n * 4), dst = cpu.allocScratch(n * 2);
      const encode = kind === 1 ? numberToF16Bits : numberToBf16Bits;
      try {
        new Uint32Array(cpu.heap.memory.buffer, src, n).set(bits);
        rt.run('f32ToHalf', 2, [src, dst, n, kind]);
        const f = new Float32Array(bits.buffer);
        const h = cpu.heap.u16.subarray(dst >> 1, (dst >> 1) + n);
        for (let i = 0; i < n; i++) {
          const want = encode(f[i]);
          if (h[i] !== want) throw new Error(`f32 bits 0x${bits[i].toString(16)} (${f[i]}): got 0x${h[i].toString(16)}, want 0x${want.toString(16)}`);
        }
      } finally {
        cpu.freeScratch(src, n * 4);
        cpu.freeScratch(dst, n * 2);
      }
    });
  }
});

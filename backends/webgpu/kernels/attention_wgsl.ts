/**
 * WGSL generator for the fused attention kernels. One query row per invocation; keys are visited
 * in blocks of BC with the online softmax of FlashAttention-2 (running max m, denominator l,
 * unnormalised accumulator, one division at the end; fully-masked rows give 0 and LSE = +inf).
 *
 *  - flash: a workgroup of BR rows shares each K/V block through workgroup memory (loaded
 *    cooperatively between two barriers), stops at the workgroup's causal bound (tiles above the
 *    diagonal are never loaded), and packs the G query heads of a KV head into one row space so
 *    GQA reads K/V once per group without repeating them. Tiles are f16 when the inputs are f16 and
 *    the device has `shader-f16` (exact, half the memory).
 *  - efficient: rows stream K/V straight from storage (no workgroup memory, no barriers, any head
 *    dim), and take an additive or bool mask broadcast to (B, H, L, S) through strides.
 *  - split (decode, FlashDecoding-style): one query row per workgroup; each invocation runs the
 *    online softmax over its own slice of the keys, then the partial (m, l, acc) are merged
 *    through workgroup memory with the log-sum-exp rule. Gives a single decoding query as many
 *    parallel lanes as the workgroup has.
 *
 * Both address q/k/v/out as base(b) + head · headStride + row · rowStride, so the same code serves
 * dense (B, H, L, E) tensors and packed varlen (tokens, H, E) tensors with cu_seqlens.
 */

import type { DType } from '../../../lib/dtype.js';
import { Uniforms, type BindingType } from '../program.js';
import { bitsFn, COMMON, loadFn } from '../wgsl.js';

/** What the generated kernel is specialised on (all part of the pipeline key). */
export interface AttnConfig {
  /** split: one query row per workgroup, its keys split across the BR invocations (decode). */
  mode: 'flash' | 'efficient' | 'split';
  varlen: boolean;
  dtype: DType;
  outDtype: DType;
  E: number;
  Ev: number;
  /** E % 4 = Ev % 4 = 0: q/k/v bound as vec4 views. */
  aligned: boolean;
  causal: boolean;
  maskDtype: DType | null;
  returnLse: boolean;
  /** Rows per workgroup (invocations). */
  BR: number;
  /** Keys per block. */
  BC: number;
  /** flash: workgroup tiles stored as f16. */
  tileF16: boolean;
  /**
   * Unroll the head-dim loops (q and the accumulator then live in registers: ~2.5× faster on
   * lavapipe) at the price of a longer pipeline compile (seconds on a software adapter).
   */
  unroll: boolean;
}

/** Shape/stride values the kernel reads from uniforms (see `attnUniforms`). */
export interface AttnDims {
  Hq: number; Hkv: number;
  L: number; S: number;
  scale: number;
  /** Causal offset (S − L for bottom-right, 0 for top-left); dense only. */
  coff: number;
  /** Per-batch, per-head and per-row element strides of q, k, v and out. */
  q: [number, number, number]; k: [number, number, number]; v: [number, number, number]; o: [number, number, number];
  /** Mask strides over (b, h, i, j); zeros when absent. */
  m: [number, number, number, number];
  /** flash: query heads packed per KV head (G = Hq / Hkv) — rows per (b, kv head) = G · L. */
  G: number;
  /** vec4 counts of E and Ev and the key block (loop bounds of the efficient kernel). */
  e4: number; v4: number; bc: number;
}

export function attnUniforms(d: AttnDims): Uniforms {
  return new Uniforms()
    .u32('Hq', d.Hq).u32('Hkv', d.Hkv).u32('L', d.L).u32('S', d.S).f32('scale', d.scale).i32('coff', d.coff).u32('G', d.G).u32('e4', d.e4).u32('v4', d.v4).u32('bc', d.bc)
    .u32('qs', d.q).u32('ks', d.k).u32('vs', d.v).u32('os', d.o).u32('ms', d.m);
}

/** Storage binding element types for [q, k, v] in a config. */
export function qkvBindings(c: AttnConfig): BindingType[] {
  const t: BindingType = !c.aligned ? 'u32' : c.dtype === 'float32' ? 'vec4<f32>' : 'vec2<u32>';
  return [t, t, t];
}

/** `fn <fn>(e: u32) -> vec4<f32>`: 4 elements starting at element e (a multiple of 4 when aligned). */
function load4(fn: string, buf: string, c: AttnConfig, dim: number): string {
  if (c.aligned) {
    if (c.dtype === 'float32') return `fn ${fn}(e: u32) -> vec4<f32> { return ${buf}[e >> 2u]; }`;
    if (c.dtype === 'float16') return `fn ${fn}(e: u32) -> vec4<f32> { let w = ${buf}[e >> 2u]; return vec4<f32>(unpack2x16float(w.x), unpack2x16float(w.y)); }`;
    return (
      `fn ${fn}(e: u32) -> vec4<f32> { let w = ${buf}[e >> 2u]; return vec4<f32>(bitcast<f32>(w.x << 16u), bitcast<f32>(w.x & 0xffff0000u), ` +
      `bitcast<f32>(w.y << 16u), bitcast<f32>(w.y & 0xffff0000u)); }`
    );
  }
  // Unaligned: scalar loads; `lim` is the row end, elements past it read as 0.
  return (
    `${loadFn(`${fn}_1`, buf, c.dtype, 'f32')}\n` +
    `fn ${fn}(e: u32, lim: u32) -> vec4<f32> { return vec4<f32>(${[0, 1, 2, 3].map((m) => `select(0.0, ${fn}_1(e + ${m}u), e + ${m}u < lim)`).join(', ')}); }`
  ) + `\nconst ${fn.toUpperCase()}_DIM = ${dim}u;`;
}

/** Full WGSL body (after bindings) of an attention kernel. Inputs: q, k, v, [mask | cuQ, cuK]; outputs: out, [lse]. */
export function attnBody(c: AttnConfig): string {
  const E4 = Math.ceil(c.E / 4);
  const V4 = Math.ceil(c.Ev / 4);
  // The key-block loop is bounded by a uniform: with compile-time bounds the compiler unrolls the
  // nested E×BC loops completely, and lavapipe's LLVM then needs minutes per pipeline. The head-dim
  // loops are compile-time when `unroll` is set.
  const nE4 = c.unroll ? `${E4}u` : 'u_e4()';
  const nV4 = c.unroll ? `${V4}u` : 'u_v4()';
  const nBC = 'u_bc()';
  const ld = (fn: string, off: string, lim: string) => (c.aligned ? `${fn}(${off})` : `${fn}(${off}, ${lim})`);
  const maskIdx = c.varlen ? -1 : 3;
  const lines: string[] = [COMMON, load4('ldq', 'in0', c, c.E), load4('ldk', 'in1', c, c.E), load4('ldv', 'in2', c, c.Ev), bitsFn('to_bits', c.outDtype, 'f32')];
  if (c.maskDtype) lines.push(loadFn('ldm', `in${maskIdx}`, c.maskDtype, 'f32'));
  if (c.varlen) lines.push('fn cu(buf: u32, b: u32) -> u32 { if (buf == 0u) { return in3[b]; } return in4[b]; }');
  const tileT = c.tileF16 ? 'vec4<f16>' : 'vec4<f32>';
  const flash = c.mode === 'flash';
  const split = c.mode === 'split';
  if (flash) {
    lines.push(`var<workgroup> Ks: array<${tileT}, ${c.BC * E4}>;`, `var<workgroup> Vs: array<${tileT}, ${c.BC * V4}>;`);
  }
  if (split) {
    lines.push(
      `var<workgroup> sm: array<f32, ${c.BR}>;`, `var<workgroup> sl: array<f32, ${c.BR}>;`,
      `var<workgroup> sacc: array<vec4<f32>, ${c.BR * V4}>;`, `var<workgroup> stot: vec2<f32>;`,
    );
  }
  lines.push(
    `@compute @workgroup_size(${c.BR})`,
    `fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {`,
    `  let b = wid.z;`,
    `  let G = u_G();`,
  );
  // Row space per (b, y): flash packs G query heads of KV head y; efficient: y is the query head.
  if (c.varlen) {
    lines.push(
      `  let qStart = cu(0u, b); let L = cu(0u, b + 1u) - qStart;`,
      `  let kStart = cu(1u, b); let S = cu(1u, b + 1u) - kStart;`,
      `  let coff = i32(S) - i32(L);`,
    );
  } else {
    lines.push(`  let qStart = 0u; let kStart = 0u; let L = u_L(); let S = u_S(); let coff = u_coff();`);
  }
  if (flash) {
    lines.push(
      `  let g = wid.y;`,
      `  let rows = G * L;`,
      `  let r0 = wid.x * ${c.BR}u;`,
      `  if (r0 >= rows) { return; }`,
      `  let r = r0 + t;`,
      `  let live = r < rows;`,
      `  let rr = min(r, rows - 1u);`,
      `  let h = g * G + rr / L; let i = rr % L;`,
      // Largest query index in the block bounds the keys the whole workgroup needs.
      `  let rLast = min(r0 + ${c.BR - 1}u, rows - 1u);`,
      `  let iMax = select(rLast % L, L - 1u, rLast / L != r0 / L);`,
    );
  } else if (split) {
    lines.push(`  let h = wid.y;`, `  let g = h / G;`, `  let i = wid.x;`, `  if (i >= L) { return; }`, `  let live = true;`);
  } else {
    lines.push(
      `  let h = wid.y;`,
      `  let g = h / G;`,
      `  let i = wid.x * ${c.BR}u + t;`,
      `  if (i >= L) { return; }`,
      `  let live = true;`,
    );
  }
  lines.push(
    `  let qB = b * u_qs(0u) + qStart * u_qs(2u) + h * u_qs(1u) + i * u_qs(2u);`,
    `  let kB = b * u_ks(0u) + kStart * u_ks(2u) + g * u_ks(1u);`,
    `  let vB = b * u_vs(0u) + kStart * u_vs(2u) + g * u_vs(1u);`,
    `  let oB = b * u_os(0u) + qStart * u_os(2u) + h * u_os(1u) + i * u_os(2u);`,
    `  let scale = u_scale();`,
    `  var q: array<vec4<f32>, ${E4}>;`,
    `  for (var e = 0u; e < ${nE4}; e++) { q[e] = ${ld('ldq', 'qB + e * 4u', `qB + ${c.E}u`)} * scale; }`,
    `  var acc: array<vec4<f32>, ${V4}>;`,
    `  for (var e = 0u; e < ${nV4}; e++) { acc[e] = vec4<f32>(0.0); }`,
    `  let NEG_INF = -inf_f();`,
    `  var m = NEG_INF; var l = 0.0;`,
    c.causal ? `  let kEnd = u32(clamp(i32(i) + coff + 1, 0, i32(S)));` : `  let kEnd = S;`,
    // This invocation's keys: all of them, or (split) a contiguous slice.
    split ? `  let chunk = (kEnd + ${c.BR - 1}u) / ${c.BR}u; let kLo = min(kEnd, t * chunk); let kHi = min(kEnd, kLo + chunk);` : `  let kLo = 0u; let kHi = kEnd;`,
    `  var s: array<f32, ${c.BC}>;`,
  );
  if (c.maskDtype) lines.push(`  let mB = b * u_ms(0u) + h * u_ms(1u) + i * u_ms(2u);`);
  const update = (scoreOf: string, vRow: (cc: string, e: string) => string) => [
    `    var bmax = NEG_INF;`,
    `    for (var cc = 0u; cc < ${nBC}; cc++) {`,
    `      let j = j0 + cc;`,
    `      var sc = NEG_INF;`,
    `      if (j < kHi) {`,
    `        sc = ${scoreOf};`,
    c.maskDtype === 'bool'
      ? `        if (ldm(mB + j * u_ms(3u)) == 0.0) { sc = NEG_INF; }`
      : c.maskDtype
        ? `        sc += ldm(mB + j * u_ms(3u));`
        : '',
    `      }`,
    `      s[cc] = sc; bmax = max(bmax, sc);`,
    `    }`,
    `    if (bmax > NEG_INF) {`,
    `      let mNew = max(m, bmax);`,
    `      let alpha = exp(m - mNew);`,
    `      l *= alpha;`,
    `      for (var e = 0u; e < ${nV4}; e++) { acc[e] *= alpha; }`,
    `      for (var cc = 0u; cc < ${nBC}; cc++) {`,
    `        let p = exp(s[cc] - mNew);`,
    `        if (p > 0.0) {`,
    `          l += p;`,
    `          for (var e = 0u; e < ${nV4}; e++) { acc[e] += p * ${vRow('cc', 'e')}; }`,
    `        }`,
    `      }`,
    `      m = mNew;`,
    `    }`,
  ];
  if (flash) {
    lines.push(
      c.causal ? `  let wEnd = u32(clamp(i32(iMax) + coff + 1, 0, i32(S)));` : `  let wEnd = S;`,
      `  for (var j0 = 0u; j0 < wEnd; j0 += ${c.BC}u) {`,
      `    workgroupBarrier();`,
      `    for (var x = t; x < ${c.BC * E4}u; x += ${c.BR}u) {`,
      `      let cc = x / ${E4}u; let e = x % ${E4}u; let j = min(j0 + cc, S - 1u);`,
      `      Ks[x] = ${tileT}(${ld('ldk', `kB + j * u_ks(2u) + e * 4u`, `kB + j * u_ks(2u) + ${c.E}u`)});`,
      `    }`,
      `    for (var x = t; x < ${c.BC * V4}u; x += ${c.BR}u) {`,
      `      let cc = x / ${V4}u; let e = x % ${V4}u; let j = min(j0 + cc, S - 1u);`,
      `      Vs[x] = ${tileT}(${ld('ldv', `vB + j * u_vs(2u) + e * 4u`, `vB + j * u_vs(2u) + ${c.Ev}u`)});`,
      `    }`,
      `    workgroupBarrier();`,
      `    if (live && j0 < kEnd) {`,
      ...update(`score_tile(cc)`, (cc, e) => `vec4<f32>(Vs[${cc} * ${V4}u + ${e}])`).map((x) => `  ${x}`),
      `    }`,
      `  }`,
    );
    // score_tile must see q: inline it as a nested loop instead of a function over a private array.
    const idx = lines.findIndex((x) => x.includes('score_tile(cc)'));
    lines[idx] = lines[idx].replace(
      'score_tile(cc)',
      `0.0; { var s4 = vec4<f32>(0.0); for (var e = 0u; e < ${nE4}; e++) { s4 = fma(q[e], vec4<f32>(Ks[cc * ${E4}u + e]), s4); } sc = (s4.x + s4.y) + (s4.z + s4.w); }`,
    );
  } else {
    lines.push(
      `  for (var j0 = kLo; j0 < kHi; j0 += ${nBC}) {`,
      ...update(
        `0.0; { let kr = kB + j * u_ks(2u); var s4 = vec4<f32>(0.0); for (var e = 0u; e < ${nE4}; e++) { s4 = fma(q[e], ${ld('ldk', 'kr + e * 4u', `kr + ${c.E}u`)}, s4); } sc = (s4.x + s4.y) + (s4.z + s4.w); }`,
        (cc, e) => ld('ldv', `vB + (j0 + ${cc}) * u_vs(2u) + ${e} * 4u`, `vB + (j0 + ${cc}) * u_vs(2u) + ${c.Ev}u`),
      ),
      `  }`,
    );
  }
  // Finalise: out = acc / l (0 for rows that saw no key), LSE = m + log(l) (+inf then).
  const k16 = c.outDtype === 'float16' || c.outDtype === 'bfloat16';
  if (split) {
    // Merge the invocations' partial states: M = max m_t, l = Σ l_t·e^(m_t − M), acc = Σ acc_t·e^(m_t − M).
    lines.push(
      `  sm[t] = m; sl[t] = l;`,
      `  for (var e = 0u; e < ${nV4}; e++) { sacc[t * ${V4}u + e] = acc[e]; }`,
      `  workgroupBarrier();`,
      `  if (t == 0u) {`,
      `    var M = NEG_INF; for (var x = 0u; x < ${c.BR}u; x++) { M = max(M, sm[x]); }`,
      `    var tot = 0.0; for (var x = 0u; x < ${c.BR}u; x++) { if (sm[x] > NEG_INF) { tot += sl[x] * exp(sm[x] - M); } }`,
      `    stot = vec2<f32>(M, tot);`,
      `  }`,
      `  workgroupBarrier();`,
      `  let M = stot.x; let tot = stot.y;`,
      `  let inv = select(1.0 / tot, 0.0, tot == 0.0);`,
      `  for (var e = t; e < ${nV4}; e += ${c.BR}u) {`,
      `    var sum = vec4<f32>(0.0);`,
      `    for (var x = 0u; x < ${c.BR}u; x++) { if (sm[x] > NEG_INF) { sum += sacc[x * ${V4}u + e] * exp(sm[x] - M); } }`,
      `    let v = sum * inv;`,
      k16
        ? `    let w = (oB + e * 4u) / 2u; out0[w] = to_bits(v.x) | (to_bits(v.y) << 16u); if (e * 4u + 2u < ${c.Ev}u) { out0[w + 1u] = to_bits(v.z) | (to_bits(v.w) << 16u); }`
        : `    for (var x = 0u; x < 4u; x++) { if (e * 4u + x < ${c.Ev}u) { out0[oB + e * 4u + x] = to_bits(v[x]); } }`,
      `  }`,
      c.returnLse ? `  if (t == 0u) { out1[(b * u_Hq() + h) * L + i] = select(M + log(tot), inf_f(), tot == 0.0); }` : '',
      '}',
    );
    return lines.join('\n');
  }
  lines.push(
    `  if (!live) { return; }`,
    `  let inv = select(1.0 / l, 0.0, l == 0.0);`,
    k16
      ? `  for (var e = 0u; e < ${nV4}; e++) { let v = acc[e] * inv; let w = (oB + e * 4u) / 2u;\n` +
        `    out0[w] = to_bits(v.x) | (to_bits(v.y) << 16u); if (e * 4u + 2u < ${c.Ev}u) { out0[w + 1u] = to_bits(v.z) | (to_bits(v.w) << 16u); } }`
      : `  for (var e = 0u; e < ${nV4}; e++) { let v = acc[e] * inv; for (var x = 0u; x < 4u; x++) { if (e * 4u + x < ${c.Ev}u) { out0[oB + e * 4u + x] = to_bits(v[x]); } } }`,
  );
  if (c.returnLse) {
    lines.push(`  out1[(b * u_Hq() + h) * L + i] = select(m + log(l), inf_f(), l == 0.0);`);
  }
  lines.push('}');
  return lines.join('\n');
}

/**
 * LLM.int8 kernels (docs/quantization.md §1): row-wise weight quantization, activation
 * quantization with outlier columns, the int8 × int8 → int32 product (four codes per word,
 * `dot4I8Packed` where WGSL offers it) with row/column-scale dequantization, and column
 * dequantization for the 16-bit outlier stream.
 *
 * Int8VectorQuant's third output (the outlier columns) has a data-dependent length. A GPU cannot
 * report it synchronously, so this backend needs the count on the host: it uses the activation's
 * host copy when it has one (small uploads) and otherwise throws. `int8Linear` does not need it
 * here: it runs the fused `Int8Linear` kernel (below) on backends that register one.
 */

import type { TensorInfo } from '../../../lib/backend.js';
import type { DType } from '../../../lib/dtype.js';
import { BackendError } from '../../../lib/errors.js';
import { decodeBf16, decodeF16, F16_TO_F32, numberToF16Bits } from '../../../lib/float16.js';
import { INT8_MM_DEQUANT, INT8_W_DEQUANT } from '../../../lib/quant_codes.js';
import type { GpuDataId, WebGPUBackend } from '../backend.js';
import { grid1d, main1d, Uniforms } from '../program.js';
import { bitsFn, COMMON, loadFn, packWord, perWord } from '../wgsl.js';
import { viaWide } from './map.js';
import { QUANT_WGSL } from './quant_util.js';
import { gpuKernel, needsWide } from './util.js';

const WG = 256;

/** WGSL `fn h(v: f32) -> f32`: the value as float16 (bitsandbytes quantizes a float16 copy). */
const TO_F16 = 'fn h(v: f32) -> f32 { return f16_val(f16_bits(v)); }';
/** WGSL `fn sbyte(i)`: int8 element i of binding `buf` (sign-extended). */
const sbyteFn = (fn: string, buf: string) => `fn ${fn}(i: u32) -> i32 { return bitcast<i32>(${buf}[i >> 2u] << (24u - 8u * (i & 3u))) >> 24u; }`;

/** Per-row absmax of the float16-rounded values (outliers ≥ threshold excluded) and f32(127 · f32(1 / absmax)) (bitsandbytes' scale). */
function rowScales(gpu: WebGPUBackend, x: TensorInfo, rows: number, K: number, threshold: number, absmax: TensorInfo, scale: TensorInfo): void {
  const u = new Uniforms().u32('rows', rows).u32('K', K).f32('thr', threshold);
  const body = () =>
    [
      COMMON, QUANT_WGSL, TO_F16, loadFn('ld', 'in0', x.dtype, 'f32'), main1d(WG),
      `  if (idx >= u_rows()) { return; }`,
      `  var m = 0.0;`,
      `  for (var k = 0u; k < u_K(); k++) { let a = abs(h(ld(idx * u_K() + k))); if (a > m && !(u_thr() > 0.0 && a >= u_thr())) { m = a; } }`,
      `  out0[idx] = m;`,
      `  out1[idx] = select(127.0 * div_rn(1.0, m), 0.0, m == 0.0);`,
      `}`,
    ].join('\n');
  gpu.run({ name: 'Int8RowScale', key: x.dtype, inputs: ['u32'], outputs: ['f32', 'f32'], uniforms: u, body, grid: grid1d(rows, WG) }, [x], [absmax, scale]);
}

/** Codes rne(f32(h(x)·scale[row])), zero where `zeroCol(k)` (outlier columns) — 4 per word. */
function quantizeRows(gpu: WebGPUBackend, x: TensorInfo, rows: number, K: number, scale: TensorInfo, colFlags: TensorInfo | null, out: TensorInfo, infoFlags = false): void {
  const n = rows * K;
  const u = new Uniforms().u32('n', n).u32('K', K);
  const body = () =>
    [
      COMMON, TO_F16, loadFn('ld', 'in0', x.dtype, 'f32'),
      `fn code(i: u32) -> u32 {`,
      `  let r = i / u_K();`,
      // Flags: 1 marks an outlier column; as Int8Linear's column info, anything but -2 does.
      colFlags ? `  if (${infoFlags ? 'bitcast<i32>(in2[i % u_K()]) != -2' : 'in2[i % u_K()] != 0u'}) { return 0u; }` : '',
      `  return bitcast<u32>(i32(round(h(ld(i)) * in1[r]))) & 0xffu;`,
      `}`,
      main1d(WG),
      `  let o = idx * 4u;`,
      `  if (o >= u_n()) { return; }`,
      `  var w = 0u;`,
      `  for (var j = 0u; j < 4u; j++) { if (o + j < u_n()) { w = w | (code(o + j) << (8u * j)); } }`,
      `  out0[idx] = w;`,
      `}`,
    ].join('\n');
  const ins = colFlags ? [x, scale, colFlags] : [x, scale];
  gpu.run({ name: 'Int8Quantize', key: `${x.dtype}|${!!colFlags}|${infoFlags}`, inputs: colFlags ? ['u32', 'f32', 'u32'] : ['u32', 'f32'], outputs: ['u32'], uniforms: u, body, grid: grid1d(Math.ceil(n / 4), WG) }, ins, [out]);
}

gpuKernel('QuantizeInt8Rowwise', ([w], _attrs, gpu) => {
  const [N, K] = w.shape;
  const cb = gpu.makeOutput([N, K], 'int8');
  const scb = gpu.makeOutput([N], 'float32');
  if (N * K === 0) return [cb, scb];
  const scale = gpu.makeTemp([N], 'float32');
  rowScales(gpu, w, N, K, 0, scb, scale);
  quantizeRows(gpu, w, N, K, scale, null, cb);
  gpu.disposeTemp(scale);
  return [cb, scb];
});

/** Outlier columns of x (float16 view, |v| ≥ threshold anywhere in the column), from its host copy. */
function hostOutlierCols(x: TensorInfo, threshold: number): Int32Array | null {
  const raw = (x.dataId as GpuDataId).shadow;
  if (!raw) return null;
  const vals = x.dtype === 'float16' ? decodeF16(raw as Uint16Array) : x.dtype === 'bfloat16' ? decodeBf16(raw as Uint16Array) : Float32Array.from(raw as Float32Array);
  const [T, K] = x.shape;
  const flag = new Uint8Array(K);
  for (let i = 0; i < T * K; i++) if (Math.abs(F16_TO_F32[numberToF16Bits(vals[i])]) >= threshold) flag[i % K] = 1;
  const cols: number[] = [];
  for (let k = 0; k < K; k++) if (flag[k]) cols.push(k);
  return Int32Array.from(cols);
}

gpuKernel('Int8VectorQuant', ([x], { threshold }: { threshold: number }, gpu) => {
  const [T, K] = x.shape;
  let cols: Int32Array = new Int32Array(0);
  if (threshold > 0) {
    const c = hostOutlierCols(x, threshold);
    if (!c) {
      throw new BackendError(
        `Int8VectorQuant: the number of outlier columns (threshold ${threshold}) depends on the data and backend 'webgpu' cannot read it ` +
          `synchronously; use int8Linear (fused Int8Linear kernel), a threshold of 0, or activations uploaded from the host`,
      );
    }
    cols = c;
  }
  const ca = gpu.makeOutput([T, K], 'int8');
  const sca = gpu.makeOutput([T], 'float32');
  const colsOut: TensorInfo = { dataId: gpu.write(cols, cols.length, 'int32'), shape: [cols.length], dtype: 'int32' };
  if (T * K === 0) return [ca, sca, colsOut];
  const scale = gpu.makeTemp([T], 'float32');
  rowScales(gpu, x, T, K, threshold, sca, scale);
  let flags: TensorInfo | null = null;
  if (threshold > 0) {
    const f = new Int32Array(K);
    for (const k of cols) f[k] = 1;
    flags = { dataId: gpu.write(f, K, 'int32'), shape: [K], dtype: 'int32' };
  }
  quantizeRows(gpu, x, T, K, scale, flags, ca);
  gpu.disposeTemp(scale);
  if (flags) gpu.disposeData(flags.dataId);
  return [ca, sca, colsOut];
});

/** WGSL: int32 dot product of 4 packed int8 codes (dot4I8Packed where offered). */
function dot4(gpu: WebGPUBackend): string {
  if (gpu.info.dot4I8) return 'fn dot4(a: u32, b: u32) -> i32 { return dot4I8Packed(a, b); }';
  return (
    'fn dot4(a: u32, b: u32) -> i32 { var s = 0; for (var j = 0u; j < 4u; j++) { ' +
    's += (bitcast<i32>(a << (24u - 8u * j)) >> 24u) * (bitcast<i32>(b << (24u - 8u * j)) >> 24u); } return s; }'
  );
}

interface Int8GemmSpec {
  T: number; N: number; K: number;
  outDtype: DType;
  hasBias: boolean;
  biasDtype?: DType;
  /** Int8Linear: x's dtype (x bound as in4, the outlier list as in5, stored copies as in7). */
  linear?: { xDtype: DType; stored: DType | null };
}

/**
 * The int8 product: each invocation computes TM rows × 4 columns, reading each CB word once for
 * its TM rows (4 codes per word, dot4I8Packed where offered); then the float16 dequantization and,
 * for Int8Linear, the 16-bit product over the (compacted) outlier columns.
 */
function int8GemmBody(gpu: WebGPUBackend, g: Int8GemmSpec, TM: number): string {
  const aligned = g.K % 4 === 0;
  const k16 = g.outDtype === 'float16' || g.outDtype === 'bfloat16';
  const lin = g.linear;
  const rows = Array.from({ length: TM }, (_, i) => i);
  const dot = aligned
    ? `  for (var k = 0u; k < K / 4u; k++) {\n` +
      `    let b0 = in1[(n[0] * K) / 4u + k]; let b1 = in1[(n[1] * K) / 4u + k]; let b2 = in1[(n[2] * K) / 4u + k]; let b3 = in1[(n[3] * K) / 4u + k];\n` +
      rows.map((i) => `    { let a = in0[(t[${i}] * K) / 4u + k]; acc${i} += vec4<i32>(dot4(a, b0), dot4(a, b1), dot4(a, b2), dot4(a, b3)); }`).join('\n') +
      `\n  }`
    : `  for (var k = 0u; k < K; k++) {\n    let bv = vec4<i32>(sb(n[0] * K + k), sb(n[1] * K + k), sb(n[2] * K + k), sb(n[3] * K + k));\n` +
      rows.map((i) => `    acc${i} += sa(t[${i}] * K + k) * bv;`).join('\n') +
      `\n  }`;
  const w = lin?.stored
    ? `select(rx((f32(sb(n[j] * K + k)) * in3[n[j]]) * u_wdeq()), rx(lds(n[j] * u_S() + u32(max(info, 0)))), info >= 0)`
    : `rx((f32(sb(n[j] * K + k)) * in3[n[j]]) * u_wdeq())`;
  return [
    COMMON, dot4(gpu), sbyteFn('sa', 'in0'), sbyteFn('sb', 'in1'),
    lin ? roundX(lin.xDtype) : 'fn rx(v: f32) -> f32 { return v; }',
    lin ? loadFn('ldx', 'in4', lin.xDtype, 'f32') : '',
    g.hasBias ? loadFn('ldb', lin ? 'in6' : 'in4', g.biasDtype!, 'f32') : '',
    lin?.stored ? loadFn('lds', 'in7', lin.stored, 'f32') : '',
    bitsFn('to_bits', g.outDtype, 'f32'),
    `@compute @workgroup_size(64)`,
    `fn main(@builtin(global_invocation_id) gid: vec3<u32>) {`,
    `  let N = u_N(); let K = u_K(); let T = u_T(); let n0 = gid.x * 4u; let t0 = gid.y * ${TM}u;`,
    `  if (n0 >= N || t0 >= T) { return; }`,
    `  var n: array<u32, 4>; for (var j = 0u; j < 4u; j++) { n[j] = min(n0 + j, N - 1u); }`,
    `  var t: array<u32, ${TM}>; for (var i = 0u; i < ${TM}u; i++) { t[i] = min(t0 + i, T - 1u); }`,
    ...rows.map((i) => `  var acc${i} = vec4<i32>(0);`),
    dot,
    lin ? `  let cnt = in5[0];` : '',
    ...rows.map((i) =>
      [
        `  if (t0 + ${i}u < T) {`,
        `    var res = vec4<f32>(0.0);`,
        `    for (var j = 0u; j < 4u; j++) {`,
        `      let v = (f32(acc${i}[j]) * in2[t[${i}]]) * in3[n[j]];`,
        `      let yi = rx(f16_val(f16_bits(${g.hasBias ? 'fma(v, u_deq(), ldb(n[j]))' : 'v * u_deq()'})));`,
        lin
          ? `      var yo = 0.0;\n      for (var c = 0u; c < cnt; c++) { let k = in5[1u + 2u * c]; let info = bitcast<i32>(in5[2u + 2u * c]); yo += ldx(t[${i}] * K + k) * ${w}; }\n` +
            `      res[j] = select(yi, rx(yi + rx(yo)), cnt > 0u);`
          : `      res[j] = yi;`,
        `    }`,
        `    let e = t[${i}] * N + n0;`,
        k16
          ? `    out0[e / 2u] = to_bits(res.x) | (to_bits(res.y) << 16u);\n    if (n0 + 2u < N) { out0[e / 2u + 1u] = to_bits(res.z) | (to_bits(res.w) << 16u); }`
          : `    for (var j = 0u; j < 4u; j++) { if (n0 + j < N) { out0[e + j] = to_bits(res[j]); } }`,
        `  }`,
      ].join('\n'),
    ),
    `}`,
  ].join('\n');
}

/** Rows per invocation of the int8 product. */
const rowsPerThread = (T: number) => (T >= 4 ? 4 : 1);

gpuKernel('Int8MatMul', (inputs, { hasBias }: { hasBias: boolean }, gpu) => {
  const [ca, cb, sca, scb] = inputs;
  const bias = hasBias ? inputs[4] : null;
  const [T, K] = ca.shape;
  const N = cb.shape[0];
  // The reference rounds to float16; a float32 temporary (odd N) holds the f16-rounded values.
  return viaWide(gpu, [T, N], 'float16', needsWide('float16', N), (out) => {
    if (T * N === 0) return;
    const TM = rowsPerThread(T);
    const g: Int8GemmSpec = { T, N, K, outDtype: out.dtype, hasBias, biasDtype: bias?.dtype };
    const u = new Uniforms().u32('T', T).u32('N', N).u32('K', K).f32('deq', INT8_MM_DEQUANT);
    const ins = bias ? [ca, cb, sca, scb, bias] : [ca, cb, sca, scb];
    gpu.run(
      {
        name: 'Int8MatMul', key: `${K % 4 === 0}|${bias?.dtype ?? ''}|${out.dtype}|${gpu.info.dot4I8}|TM${TM}`,
        inputs: bias ? ['u32', 'u32', 'f32', 'f32', 'u32'] : ['u32', 'u32', 'f32', 'f32'], outputs: ['u32'], uniforms: u,
        body: () => int8GemmBody(gpu, g, TM), grid: [Math.ceil(N / 256), Math.ceil(T / TM), 1],
      },
      ins,
      [out],
    );
  });
});

gpuKernel('DequantizeInt8', (inputs, { dtype, hasCols, hasStored }: { dtype: DType; hasCols: boolean; hasStored: boolean }, gpu) => {
  const [cb, scb] = inputs;
  const [N, K] = cb.shape;
  const cols = hasCols ? inputs[2] : null;
  const m = cols ? cols.shape[0] : K;
  const out = gpu.makeOutput([N, m], dtype);
  const n = N * m;
  if (n === 0) return out;
  const S = hasStored ? inputs[3].shape[0] : 0;
  const stored = hasStored ? inputs[4] : null;
  const k = perWord(dtype);
  const u = new Uniforms().u32('n', n).u32('m', m).u32('K', K).u32('S', S).f32('wdeq', INT8_W_DEQUANT);
  // Column j reads the stored 16-bit copy when its index is listed in storedCols, else CB·SCB/127.
  const body = () =>
    [
      COMMON, sbyteFn('sb', 'in0'), stored ? loadFn('lds', 'in4', stored.dtype, 'f32') : '', bitsFn('to_bits', dtype, 'f32'),
      `fn value(i: u32) -> f32 {`,
      `  let r = i / u_m(); let j = i % u_m();`,
      `  let c = ${cols ? 'bitcast<u32>(in2[j])' : 'j'};`,
      stored ? `  for (var s = 0u; s < u_S(); s++) { if (bitcast<u32>(in3[s]) == c) { return lds(r * u_S() + s); } }` : '',
      `  return (f32(sb(r * u_K() + c)) * in1[r]) * u_wdeq();`,
      `}`,
      main1d(WG),
      `  let o = idx * ${k}u;`,
      `  if (o >= u_n()) { return; }`,
      `  out0[idx] = ${packWord(dtype, 'to_bits', (j) => `value(min(o + ${j}u, u_n() - 1u))`, 'o', 'u_n()')};`,
      `}`,
    ].join('\n');
  const ins = [cb, scb, ...(cols ? [cols] : []), ...(hasStored ? [inputs[3], inputs[4]] : [])];
  const types = ['u32', 'f32', ...(cols ? ['u32'] : []), ...(hasStored ? ['u32', 'u32'] : [])] as ('u32' | 'f32')[];
  // Bindings must keep their positions (in2 = cols, in3/in4 = stored): without cols there is no stored.
  gpu.run({ name: 'DequantizeInt8', key: `${dtype}|${hasCols}|${hasStored}|${stored?.dtype ?? ''}`, inputs: types, outputs: ['u32'], uniforms: u, body, grid: grid1d(Math.ceil(n / k), WG) }, ins, [out]);
  return out;
});

/** WGSL `fn rx(v: f32) -> f32`: rounding to x's dtype. */
function roundX(dtype: DType): string {
  if (dtype === 'float16') return 'fn rx(v: f32) -> f32 { return f16_val(f16_bits(v)); }';
  if (dtype === 'bfloat16') return 'fn rx(v: f32) -> f32 { return bf16_val(bf16_bits(v)); }';
  return 'fn rx(v: f32) -> f32 { return v; }';
}

/**
 * The whole LLM.int8 Linear in three passes, with no data-dependent shape: (1) per column, whether
 * it is an outlier column and where its stored 16-bit copy is; (2) row scales and int8 codes of x
 * with outlier columns zeroed; (3) per output, the int8 product dequantized and rounded to float16
 * (then x's dtype) plus the 16-bit product over the outlier columns, rounded as the decomposed op
 * rounds (product in x's dtype, then the sum).
 */
gpuKernel('Int8Linear', (inputs, { threshold, hasBias, hasStored }: { threshold: number; hasBias: boolean; hasStored: boolean }, gpu) => {
  const [x, cb, scb] = inputs;
  const bias = hasBias ? inputs[3] : null;
  const storedCols = hasStored ? inputs[hasBias ? 4 : 3] : null;
  const stored = hasStored ? inputs[hasBias ? 5 : 4] : null;
  const [T, K] = x.shape;
  const N = cb.shape[0];
  const S = storedCols ? storedCols.shape[0] : 0;
  return viaWide(gpu, [T, N], x.dtype, needsWide(x.dtype, N), (out) => {
    if (T * N === 0) return;
    // Pass 1: colInfo[k] = -2 (regular), -1 (outlier, dequantized from int8) or s (outlier, stored copy s).
    const colInfo = gpu.makeTemp([K], 'int32');
    const u1 = new Uniforms().u32('T', T).u32('K', K).u32('S', S).f32('thr', threshold);
    gpu.run(
      {
        name: 'Int8Linear', key: `cols|${x.dtype}|${!!storedCols}`, inputs: storedCols ? ['u32', 'u32'] : ['u32'], outputs: ['u32'], uniforms: u1, grid: grid1d(K, WG),
        body: () =>
          [
            COMMON, TO_F16, loadFn('ld', 'in0', x.dtype, 'f32'), main1d(WG),
            `  if (idx >= u_K()) { return; }`,
            `  var outlier = false;`,
            `  if (u_thr() > 0.0) { for (var t = 0u; t < u_T(); t++) { if (abs(h(ld(t * u_K() + idx))) >= u_thr()) { outlier = true; break; } } }`,
            `  var info = select(-2, -1, outlier);`,
            storedCols ? `  if (outlier) { for (var s = 0u; s < u_S(); s++) { if (in1[s] == idx) { info = i32(s); } } }` : '',
            `  out0[idx] = bitcast<u32>(info);`,
            `}`,
          ].join('\n'),
      },
      storedCols ? [x, storedCols] : [x],
      [colInfo],
    );
    // Pass 2: activations to int8 (outlier columns zeroed, left out of the row absmax).
    const sca = gpu.makeTemp([T], 'float32');
    const scale = gpu.makeTemp([T], 'float32');
    const ca = gpu.makeTemp([T, K], 'int8');
    rowScales(gpu, x, T, K, threshold, sca, scale);
    quantizeRows(gpu, x, T, K, scale, colInfo, ca, true);
    gpu.disposeTemp(scale);
    // Pass 3: the outlier columns compacted to [count, k0, info0, k1, info1, …] (one invocation).
    const list = gpu.makeTemp([1 + 2 * K], 'int32');
    gpu.run(
      {
        name: 'Int8Linear', key: 'compact', inputs: ['u32'], outputs: ['u32'], uniforms: new Uniforms().u32('K', K), grid: [1, 1, 1],
        body: () =>
          [`@compute @workgroup_size(1)`, `fn main() {`, `  var c = 0u;`,
            `  for (var k = 0u; k < u_K(); k++) { let info = bitcast<i32>(in0[k]); if (info != -2) { out0[1u + 2u * c] = k; out0[2u + 2u * c] = bitcast<u32>(info); c++; } }`,
            `  out0[0] = c;`, `}`].join('\n'),
      },
      [colInfo],
      [list],
    );
    // Pass 4: the fused product.
    const TM = rowsPerThread(T);
    const g: Int8GemmSpec = { T, N, K, outDtype: out.dtype, hasBias, biasDtype: bias?.dtype, linear: { xDtype: x.dtype, stored: stored?.dtype ?? null } };
    const u = new Uniforms().u32('T', T).u32('N', N).u32('K', K).u32('S', S).f32('deq', INT8_MM_DEQUANT).f32('wdeq', INT8_W_DEQUANT);
    const ins: TensorInfo[] = [ca, cb, sca, scb, x, list, ...(bias ? [bias] : stored ? [x] : []), ...(stored ? [stored] : [])];
    const types = ['u32', 'u32', 'f32', 'f32', 'u32', 'u32', ...(bias || stored ? ['u32'] : []), ...(stored ? ['u32'] : [])] as ('u32' | 'f32')[];
    gpu.run(
      {
        name: 'Int8Linear', key: `${x.dtype}|${out.dtype}|${K % 4 === 0}|${bias?.dtype ?? ''}|${stored?.dtype ?? ''}|${gpu.info.dot4I8}|TM${TM}`,
        inputs: types, outputs: ['u32'], uniforms: u, body: () => int8GemmBody(gpu, g, TM), grid: [Math.ceil(N / 256), Math.ceil(T / TM), 1],
      },
      ins,
      [out],
    );
    gpu.disposeTemp(list);
    for (const tmp of [colInfo, sca, ca]) gpu.disposeTemp(tmp);
  });
});

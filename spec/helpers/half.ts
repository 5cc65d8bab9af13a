/**
 * Independent float16 / bfloat16 reference, written from the IEEE definitions rather than from
 * bit tricks: every non-negative finite value of the format in a sorted table (bit pattern h has
 * value table[h]), and rounding by binary search plus an exact midpoint comparison (midpoints of
 * neighbouring 16-bit floats are exact in float64, so the comparison is exact arithmetic).
 */

export type HalfFormat = 'float16' | 'bfloat16';

interface Table {
  /** Values of bit patterns 0 … maxFinite, plus one virtual entry: the next power of two past the max. */
  values: Float64Array;
  /** Largest finite positive pattern (0x7bff / 0x7f7f). */
  maxFinite: number;
  /** Pattern of +Inf. */
  inf: number;
  /** Exponent and significand widths. */
  expBits: number;
  mantBits: number;
}

const dv = new DataView(new ArrayBuffer(4));

/** Decodes float16 bits from the definition: (−1)^s · 2^(e−15) · (1 + f/1024), subnormals 2^−14 · f/1024. */
export function refDecodeF16(h: number): number {
  const s = h >> 15 ? -1 : 1;
  const e = (h >> 10) & 31;
  const f = h & 1023;
  if (e === 31) return f === 0 ? s * Infinity : NaN;
  if (e === 0) return s * Math.pow(2, -14) * (f / 1024);
  return s * Math.pow(2, e - 15) * (1 + f / 1024);
}

/** Decodes bfloat16 bits as the upper half of a float32. */
export function refDecodeBf16(h: number): number {
  dv.setUint32(0, (h & 0xffff) * 65536);
  return dv.getFloat32(0);
}

function makeTable(fmt: HalfFormat): Table {
  const f16 = fmt === 'float16';
  const maxFinite = f16 ? 0x7bff : 0x7f7f;
  const values = new Float64Array(maxFinite + 2);
  for (let h = 0; h <= maxFinite; h++) values[h] = f16 ? refDecodeF16(h) : refDecodeBf16(h);
  // The value the next pattern would have with an unbounded exponent: 2^16 and 2^128.
  values[maxFinite + 1] = f16 ? 65536 : Math.pow(2, 128);
  return { values, maxFinite, inf: maxFinite + 1, expBits: f16 ? 5 : 8, mantBits: f16 ? 10 : 7 };
}

const TABLES: Record<HalfFormat, Table> = { float16: makeTable('float16'), bfloat16: makeTable('bfloat16') };

/** The table of non-negative finite values (and one virtual entry past the max). */
export function halfValues(fmt: HalfFormat): Float64Array {
  return TABLES[fmt].values;
}

/** Largest finite positive bit pattern. */
export function halfMaxFinite(fmt: HalfFormat): number {
  return TABLES[fmt].maxFinite;
}

/**
 * Correctly rounded (nearest, ties to even) bits of any float64 `x`. NaN gives null (the caller
 * decides what NaN patterns are acceptable).
 */
export function refRoundBits(x: number, fmt: HalfFormat): number | null {
  if (Number.isNaN(x)) return null;
  const t = TABLES[fmt];
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  const v = t.values;
  if (a >= (v[t.maxFinite] + v[t.maxFinite + 1]) / 2) return sign | t.inf;
  // Largest h with v[h] <= a.
  let lo = 0;
  let hi = t.maxFinite;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (v[mid] <= a) lo = mid;
    else hi = mid - 1;
  }
  if (v[lo] === a) return sign | lo;
  const m = (v[lo] + v[lo + 1]) / 2;
  let h: number;
  if (a < m) h = lo;
  else if (a > m) h = lo + 1;
  else h = lo % 2 === 0 ? lo : lo + 1;
  return sign | h;
}

/** Decodes bits of either format. */
export function refDecode(h: number, fmt: HalfFormat): number {
  return fmt === 'float16' ? refDecodeF16(h) : refDecodeBf16(h);
}

/** `x` rounded once to the format, as a number. */
export function refRound(x: number, fmt: HalfFormat): number {
  const b = refRoundBits(x, fmt);
  return b === null ? NaN : refDecode(b, fmt);
}

/** Spacing of the format's values at magnitude |x| (the ulp of the binade containing x; subnormal spacing near 0). */
export function halfUlp(x: number, fmt: HalfFormat): number {
  const t = TABLES[fmt];
  const minExp = 2 - (1 << (t.expBits - 1)); // −14 / −126
  const a = Math.abs(x);
  if (!Number.isFinite(a)) return Infinity;
  const e = a === 0 ? minExp : Math.max(minExp, Math.floor(Math.log2(a)));
  // Guard log2 inexactness at binade edges: use the smaller binade's ulp (stricter).
  const e2 = a >= Math.pow(2, e + 1) ? e + 1 : a < Math.pow(2, e) && e > minExp ? e - 1 : e;
  return Math.pow(2, e2 - t.mantBits);
}

/** Next float64 above / below (for values that are finite and not zero-crossing in a way that matters here). */
export function nextUp64(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x;
  if (x === 0) return Number.MIN_VALUE;
  const b = new DataView(new ArrayBuffer(8));
  b.setFloat64(0, x);
  let bits = b.getBigUint64(0);
  bits = x > 0 ? bits + 1n : bits - 1n;
  b.setBigUint64(0, bits);
  return b.getFloat64(0);
}

export function nextDown64(x: number): number {
  return -nextUp64(-x);
}

/** Next float32 above / below `x` (which must be a float32). */
export function nextUp32(x: number): number {
  if (Number.isNaN(x) || x === Infinity) return x;
  if (x === 0) return Math.pow(2, -149);
  dv.setFloat32(0, x);
  const bits = dv.getUint32(0);
  dv.setUint32(0, x > 0 ? bits + 1 : bits - 1);
  return dv.getFloat32(0);
}

export function nextDown32(x: number): number {
  return -nextUp32(-x);
}

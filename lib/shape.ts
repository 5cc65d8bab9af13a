/** Shape arithmetic: sizes, strides, broadcasting and axis normalisation. */

import { ArgumentError, ShapeError } from './errors.js';

/** A tensor shape: non-negative integer sizes, outermost first. */
export type Shape = readonly number[];

/** Number of elements in a shape (1 for a scalar). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides in elements. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Throws unless every entry is a non-negative safe integer. */
export function assertShape(shape: unknown, op: string, arg = 'shape'): asserts shape is Shape {
  if (!Array.isArray(shape)) {
    throw new ShapeError(`${op}: '${arg}' must be an array of non-negative integers, got ${describe(shape)}`);
  }
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new ShapeError(
        `${op}: '${arg}'[${i}] must be a non-negative integer, got ${describe(d)} (shape ${describe(shape)})`,
      );
    }
  }
}

/** Shape of `a` and `b` broadcast together (NumPy rules), or a ShapeError naming the op. */
export function broadcastShapes(a: Shape, b: Shape, op: string, names: [string, string] = ['a', 'b']): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(
        `${op}: shapes of '${names[0]}' [${a}] and '${names[1]}' [${b}] are not broadcastable ` +
          `(dimension ${i - n} is ${da} vs ${db}; sizes must match or one must be 1)`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** True when `from` broadcasts to exactly `to`. */
export function broadcastsTo(from: Shape, to: Shape): boolean {
  if (from.length > to.length) return false;
  for (let i = 1; i <= from.length; i++) {
    const f = from[from.length - i];
    if (f !== 1 && f !== to[to.length - i]) return false;
  }
  return true;
}

/** Maps a possibly negative axis into [0, rank), or throws naming the op and argument. */
export function normalizeAxis(axis: number, rank: number, op: string, arg = 'axis'): number {
  if (!Number.isInteger(axis)) throw new ArgumentError(`${op}: '${arg}' must be an integer, got ${describe(axis)}`);
  if (axis < -rank || axis >= Math.max(rank, 1)) {
    throw new ShapeError(`${op}: '${arg}' ${axis} is out of range for a tensor of rank ${rank} (expected ${-rank} … ${Math.max(rank, 1) - 1})`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Normalises a list of axes (or all axes when undefined), rejecting duplicates; sorted ascending. */
export function normalizeAxes(axes: number | readonly number[] | undefined, rank: number, op: string): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out = list.map((a) => normalizeAxis(a, rank, op));
  if (new Set(out).size !== out.length) throw new ArgumentError(`${op}: 'axis' has duplicates: [${list}]`);
  return out.sort((x, y) => x - y);
}

/** True if both shapes are equal. */
export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Short, safe description of any value for error messages. */
export function describe(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(describe).join(', ')}]`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (typeof v === 'object' && v && 'shape' in v && 'dtype' in v) {
    const t = v as { shape: Shape; dtype: string };
    return `Tensor(${t.dtype}, [${t.shape}])`;
  }
  return typeof v;
}

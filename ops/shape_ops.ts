/** Ops that move data without arithmetic: reshape, transpose, concat, split, slice, expand, repeat. */

import { ENGINE } from '../lib/engine.js';
import { ArgumentError, DTypeError, ShapeError } from '../lib/errors.js';
import { assertShape, broadcastsTo, describe, normalizeAxis, sizeOf, type Shape } from '../lib/shape.js';
import type { Tensor } from '../lib/tensor.js';
import { checkInt, checkTensor } from './util.js';

/** Same data under a new shape (a view, no copy). One entry may be −1 (inferred). */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const op = 'reshape';
  checkTensor(x, op, 'x');
  if (!Array.isArray(shape)) throw new ShapeError(`${op}: 'shape' must be an array, got ${describe(shape)}`);
  let infer = -1;
  let known = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (d === -1) {
      if (infer >= 0) throw new ShapeError(`${op}: only one dimension can be −1, got [${shape}]`);
      infer = i;
    } else if (!Number.isSafeInteger(d) || d < 0) {
      throw new ShapeError(`${op}: 'shape'[${i}] must be a non-negative integer or −1, got ${describe(d)}`);
    } else known *= d;
  }
  const out = shape.slice();
  if (infer >= 0) {
    if (known === 0 || x.size % known !== 0) {
      throw new ShapeError(`${op}: cannot infer −1 in [${shape}] for a tensor of ${x.size} elements (shape [${x.shape}])`);
    }
    out[infer] = x.size / known;
  }
  if (sizeOf(out) !== x.size) {
    throw new ShapeError(`${op}: cannot reshape [${x.shape}] (${x.size} elements) to [${shape}] (${sizeOf(out)} elements)`);
  }
  return ENGINE.makeView(x, out);
}

/** Inserts a size-1 axis at `axis`. */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  checkTensor(x, 'unsqueeze', 'x');
  const a = normalizeAxis(axis, x.rank + 1, 'unsqueeze');
  const s = x.shape.slice();
  s.splice(a, 0, 1);
  return ENGINE.makeView(x, s);
}

/** Removes size-1 axes (all of them, or the listed ones, which must have size 1). */
export function squeeze(x: Tensor, axis?: number | number[]): Tensor {
  checkTensor(x, 'squeeze', 'x');
  let drop: Set<number>;
  if (axis === undefined) drop = new Set(x.shape.flatMap((d, i) => (d === 1 ? [i] : [])));
  else {
    if (typeof axis !== 'number' && !Array.isArray(axis)) throw new ArgumentError(`squeeze: 'axis' must be an integer or an array of integers, got ${describe(axis)}`);
    drop = new Set((typeof axis === 'number' ? [axis] : axis).map((a) => normalizeAxis(a, x.rank, 'squeeze')));
    for (const a of drop) if (x.shape[a] !== 1) throw new ShapeError(`squeeze: axis ${a} has size ${x.shape[a]}, expected 1 (shape [${x.shape}])`);
  }
  return ENGINE.makeView(x, x.shape.filter((_, i) => !drop.has(i)));
}

/** Flattens axes [startAxis, endAxis] into one. */
export function flatten(x: Tensor, startAxis = 0, endAxis = -1): Tensor {
  checkTensor(x, 'flatten', 'x');
  if (x.rank === 0) return reshape(x, [1]);
  const s = normalizeAxis(startAxis, x.rank, 'flatten', 'startAxis');
  const e = normalizeAxis(endAxis, x.rank, 'flatten', 'endAxis');
  if (e < s) throw new ArgumentError(`flatten: 'endAxis' (${endAxis}) must not come before 'startAxis' (${startAxis})`);
  return reshape(x, [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

/** Permutes axes (materialised). Default reverses them. */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const op = 'transpose';
  checkTensor(x, op, 'x');
  if (perm !== undefined && !Array.isArray(perm)) throw new ShapeError(`${op}: 'perm' must be an array of axes, got ${describe(perm)}`);
  const p = perm ? perm.map((a) => normalizeAxis(a, x.rank, op, 'perm')) : x.shape.map((_, i) => x.rank - 1 - i);
  if (p.length !== x.rank || new Set(p).size !== p.length) {
    throw new ShapeError(`${op}: 'perm' must be a permutation of 0 … ${x.rank - 1}, got ${describe(perm)}`);
  }
  if (p.every((a, i) => a === i)) return ENGINE.makeView(x, x.shape);
  const shape = p.map((a) => x.shape[a]);
  // Moving only size-1 axes does not change the memory order: a view suffices.
  const nonUnit = p.filter((a) => x.shape[a] !== 1);
  if (nonUnit.every((a, i) => i === 0 || a > nonUnit[i - 1])) return ENGINE.makeView(x, shape);
  return ENGINE.run('Transpose', [x], { perm: p, shape });
}

/** Alias of transpose with an explicit permutation (torch `permute`). */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  return transpose(x, perm);
}

/** Swaps two axes. */
export function swapAxes(x: Tensor, a: number, b: number): Tensor {
  checkTensor(x, 'swapAxes', 'x');
  const p = x.shape.map((_, i) => i);
  const i = normalizeAxis(a, x.rank, 'swapAxes', 'a');
  const j = normalizeAxis(b, x.rank, 'swapAxes', 'b');
  [p[i], p[j]] = [p[j], p[i]];
  return transpose(x, p);
}

/** Checks a non-empty list of tensors of one dtype; `sameShape`: all shapes equal too (stack). */
function checkTensorList(xs: readonly Tensor[], op: string, sameShape: boolean): void {
  if (!Array.isArray(xs) || xs.length === 0) throw new ArgumentError(`${op}: 'tensors' must be a non-empty array of tensors, got ${describe(xs)}`);
  xs.forEach((t, i) => checkTensor(t, op, `tensors[${i}]`));
  const first = xs[0];
  xs.forEach((t, i) => {
    if (t.dtype !== first.dtype) throw new DTypeError(`${op}: tensors[${i}] has dtype ${t.dtype}, expected ${first.dtype} like tensors[0]`);
    if (sameShape && (t.rank !== first.rank || t.shape.some((d: number, j: number) => d !== first.shape[j]))) {
      throw new ShapeError(`${op}: tensors[${i}] has shape [${t.shape}], expected [${first.shape}] like tensors[0]`);
    }
  });
}

/** Joins tensors along `axis`; every other dimension and the dtype must match. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  const op = 'concat';
  checkTensorList(xs, op, false);
  const first = xs[0];
  if (first.rank === 0) throw new ShapeError(`${op}: tensors[0] is a scalar; scalars cannot be concatenated (use stack)`);
  const ax = normalizeAxis(axis, first.rank, op);
  let total = 0;
  xs.forEach((t, i) => {
    if (t.rank !== first.rank || t.shape.some((d: number, j: number) => j !== ax && d !== first.shape[j])) {
      throw new ShapeError(`${op}: tensors[${i}] has shape [${t.shape}], which does not match tensors[0] [${first.shape}] outside axis ${ax}`);
    }
    total += t.shape[ax];
  });
  if (xs.length === 1) return ENGINE.makeView(first, first.shape);
  const shape = first.shape.slice();
  shape[ax] = total;
  return ENGINE.run('Concat', xs, { axis: ax, shape });
}

/** Stacks equal-shaped tensors along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  checkTensorList(xs, 'stack', true);
  const ax = normalizeAxis(axis, xs[0].rank + 1, 'stack');
  const views = xs.map((t) => unsqueeze(t, ax));
  try {
    return concat(views, ax);
  } finally {
    views.forEach((v) => v.dispose());
  }
}

/**
 * Copies out a box: `begin[i]` … `begin[i] + size[i]` per axis (size −1 = to the end). Shorter
 * lists apply to the leading axes.
 */
export function slice(x: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
  const op = 'slice';
  checkTensor(x, op, 'x');
  if (!Array.isArray(begin) || begin.length > x.rank) throw new ShapeError(`${op}: 'begin' must be an array of at most ${x.rank} integers, got ${describe(begin)}`);
  if (size !== undefined && (!Array.isArray(size) || size.length !== begin.length)) {
    throw new ShapeError(`${op}: 'size' must have the same length as 'begin' (${begin.length}), got ${describe(size)}`);
  }
  const b = x.shape.map((d, i) => {
    const v = begin[i] ?? 0;
    checkInt(v, op, `begin[${i}]`);
    const r = v < 0 ? v + d : v;
    if (r < 0 || r > d) throw new ShapeError(`${op}: 'begin'[${i}] = ${v} is out of range for axis ${i} of size ${d}`);
    return r;
  });
  const s = x.shape.map((d, i) => {
    const v = size?.[i] ?? -1;
    checkInt(v, op, `size[${i}]`, -1);
    const r = v === -1 ? d - b[i] : v;
    if (b[i] + r > d) throw new ShapeError(`${op}: begin ${b[i]} + size ${r} exceeds axis ${i} of size ${d} (shape [${x.shape}])`);
    return r;
  });
  if (s.every((d, i) => d === x.shape[i])) return ENGINE.makeView(x, x.shape);
  return ENGINE.run('Slice', [x], { begin: b, size: s });
}

/** Splits along `axis` into pieces of the given sizes, or into `n` equal pieces. */
export function split(x: Tensor, sizesOrCount: number | readonly number[], axis = 0): Tensor[] {
  const op = 'split';
  checkTensor(x, op, 'x');
  const ax = normalizeAxis(axis, x.rank, op);
  const d = x.shape[ax];
  let sizes: number[];
  if (typeof sizesOrCount !== 'number' && !Array.isArray(sizesOrCount)) {
    throw new ArgumentError(`${op}: 'sizes' must be a count or an array of sizes, got ${describe(sizesOrCount)}`);
  }
  if (typeof sizesOrCount === 'number') {
    checkInt(sizesOrCount, op, 'count', 1);
    if (d % sizesOrCount !== 0) throw new ShapeError(`${op}: axis ${ax} of size ${d} does not split into ${sizesOrCount} equal parts`);
    sizes = new Array(sizesOrCount).fill(d / sizesOrCount);
  } else {
    sizes = sizesOrCount.map((n, i) => checkInt(n, op, `sizes[${i}]`, 0));
    const sum = sizes.reduce((a, b) => a + b, 0);
    if (sum !== d) throw new ShapeError(`${op}: sizes [${sizes}] add up to ${sum}, expected axis ${ax}'s size ${d}`);
  }
  let at = 0;
  return sizes.map((n) => {
    const begin = x.shape.map((_, i) => (i === ax ? at : 0));
    const size = x.shape.map((s, i) => (i === ax ? n : s));
    at += n;
    return slice(x, begin, size);
  });
}

/** Broadcasts to `shape` (materialised copy), like NumPy's broadcast_to. */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  const op = 'broadcastTo';
  checkTensor(x, op, 'x');
  assertShape(shape, op);
  if (!broadcastsTo(x.shape, shape)) throw new ShapeError(`${op}: shape [${x.shape}] cannot broadcast to [${shape}]`);
  if (sizeOf(shape) === x.size) return ENGINE.makeView(x, shape);
  return ENGINE.run('BroadcastTo', [x], { shape: shape.slice() });
}

/** torch-style expand: like broadcastTo, and −1 keeps a dimension. */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const op = 'expand';
  checkTensor(x, op, 'x');
  if (!Array.isArray(shape)) throw new ShapeError(`${op}: 'shape' must be an array, got ${describe(shape)}`);
  const off = shape.length - x.rank;
  const target = shape.map((d, i) => {
    if (d === -1 && i >= off) return x.shape[i - off];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new ShapeError(`${op}: 'shape'[${i}] must be a non-negative integer${i >= off ? ' or −1' : ' (−1 is only allowed for existing axes)'}, got ${describe(d)}`);
    }
    return d;
  });
  if (!broadcastsTo(x.shape, target)) throw new ShapeError(`${op}: shape [${x.shape}] cannot expand to [${shape}]`);
  return broadcastTo(x, target);
}

/** Repeats the whole tensor `reps[i]` times along axis i (torch `repeat`, NumPy `tile`). */
export function repeat(x: Tensor, reps: readonly number[]): Tensor {
  const op = 'repeat';
  checkTensor(x, op, 'x');
  if (!Array.isArray(reps) || reps.length < x.rank) throw new ShapeError(`${op}: 'reps' must have at least ${x.rank} entries, got ${describe(reps)}`);
  reps.forEach((r, i) => checkInt(r, op, `reps[${i}]`, 0));
  const xs = [...new Array(reps.length - x.rank).fill(1), ...x.shape];
  const shape = xs.map((d, i) => d * reps[i]);
  const src = reps.length === x.rank ? x : reshape(x, xs);
  try {
    return ENGINE.run('Tile', [src], { reps: reps.slice(), shape });
  } finally {
    if (src !== x) src.dispose();
  }
}

/**
 * Repeats each element `repeats` times along `axis` (torch `repeat_interleave` with an int);
 * without an axis the tensor is flattened first, as in PyTorch.
 */
export function repeatInterleave(x: Tensor, repeats: number, axis?: number): Tensor {
  const op = 'repeatInterleave';
  checkTensor(x, op, 'x');
  checkInt(repeats, op, 'repeats', 1);
  if (axis === undefined) {
    const flat = reshape(x, [-1]);
    try {
      return repeatInterleave(flat, repeats, 0);
    } finally {
      flat.dispose();
    }
  }
  const ax = normalizeAxis(axis, x.rank, op);
  if (!Number.isSafeInteger(x.shape[ax] * repeats)) {
    throw new ShapeError(`${op}: ${repeats} repeats of axis ${ax} (size ${x.shape[ax]}) is too large`);
  }
  if (repeats === 1) return ENGINE.makeView(x, x.shape);
  const u = unsqueeze(x, ax + 1);
  let b: Tensor;
  try {
    const target = u.shape.slice();
    target[ax + 1] = repeats;
    b = broadcastTo(u, target);
  } finally {
    u.dispose();
  }
  try {
    return reshape(b, x.shape.map((d, i) => (i === ax ? d * repeats : d)));
  } finally {
    b.dispose();
  }
}

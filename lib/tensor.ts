/** The Tensor handle: shape, dtype, and where its data lives. Computation happens in ops. */

import type { DataId, TensorInfo } from './backend.js';
import type { DataArray, DType } from './dtype.js';
import { DisposedError } from './errors.js';
import { sizeOf, type Shape } from './shape.js';

/** What a Tensor needs from the engine (set by engine.ts; keeps the import graph acyclic). */
export interface TensorHost {
  read(t: Tensor): Promise<DataArray>;
  readSync(t: Tensor): DataArray;
  disposeTensor(t: Tensor): void;
}

let host: TensorHost | null = null;
/** @internal Installs the engine behind every tensor. */
export function setTensorHost(h: TensorHost): void {
  host = h;
}

let nextId = 0;

/** Nested number arrays as returned by `t.array()`. */
export type NestedArray = number | NestedArray[];

/**
 * An n-dimensional array on a backend. Row-major and contiguous; `reshape` is a view sharing the
 * data, every other op writes a new buffer. Read values with `await t.data()`.
 */
export class Tensor implements TensorInfo {
  /** Unique id, for debugging and leak reports. */
  readonly id = nextId++;
  /** Number of elements. */
  readonly size: number;
  /** @internal */
  isDisposedInternal = false;
  /** @internal Set by `keep()`: survives the enclosing tidy. */
  kept = false;

  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    readonly dataId: DataId,
    readonly backendName: string,
  ) {
    this.size = sizeOf(shape);
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** True once disposed (directly or by a tidy scope). */
  get isDisposed(): boolean {
    return this.isDisposedInternal;
  }

  /** Values as a flat typed array; float16/bfloat16 come back decoded as Float32Array. */
  data(): Promise<DataArray> {
    this.throwIfDisposed('data');
    return host!.read(this);
  }

  /** Synchronous `data()`; only backends that compute eagerly (the CPU) support it. */
  dataSync(): DataArray {
    this.throwIfDisposed('dataSync');
    return host!.readSync(this);
  }

  /** Values as nested arrays matching the shape (a number for a scalar). */
  async array(): Promise<NestedArray> {
    return nest(await this.data(), this.shape);
  }

  /** Frees the tensor's data once no other tensor (view) shares it. Idempotent. */
  dispose(): void {
    if (this.isDisposedInternal) return;
    host!.disposeTensor(this);
  }

  /** @internal Throws DisposedError naming `op` when the tensor was disposed. */
  throwIfDisposed(op: string, arg = 'tensor'): void {
    if (this.isDisposedInternal) {
      throw new DisposedError(`${op}: '${arg}' (Tensor #${this.id}, ${this.dtype} [${this.shape}]) was already disposed`);
    }
  }

  toString(): string {
    return `Tensor #${this.id} ${this.dtype} [${this.shape}] on ${this.backendName}${this.isDisposedInternal ? ' (disposed)' : ''}`;
  }
}

function nest(flat: ArrayLike<number>, shape: Shape): NestedArray {
  if (shape.length === 0) return flat[0];
  const rec = (offset: number, dim: number): NestedArray[] => {
    const n = shape[dim];
    const out: NestedArray[] = new Array(n);
    if (dim === shape.length - 1) {
      for (let i = 0; i < n; i++) out[i] = flat[offset + i];
      return out;
    }
    let stride = 1;
    for (let d = dim + 1; d < shape.length; d++) stride *= shape[d];
    for (let i = 0; i < n; i++) out[i] = rec(offset + i * stride, dim + 1);
    return out;
  };
  return rec(0, 0);
}

/**
 * The CPU backend's memory: one WebAssembly.Memory (shared when SharedArrayBuffer is available,
 * so worker threads and WebAssembly kernels see tensors in place) and an allocator over it.
 *
 * Layout: [0, 64 KiB) is left to the WebAssembly modules' static data, [64 KiB, 128 KiB) holds
 * the worker pool's control block, tensors start at 128 KiB. Blocks are 64-byte aligned (SIMD
 * loads, cache lines). Memory grows on demand and never shrinks (WebAssembly cannot shrink); freed
 * blocks are coalesced with free neighbours and reused first-fit by size class.
 */

import { OutOfMemoryError } from '../../lib/errors.js';

const PAGE = 65536;
const ALIGN = 64;
/** Start of the pool control block. */
export const CONTROL_OFFSET = PAGE;
/** Start of the tensor heap. */
export const HEAP_BASE = 2 * PAGE;
const MAX_PAGES_TRIES = [65536, 32768, 16384, 8192];

const sizeClass = (n: number) => 31 - Math.clz32(n);

export class Heap {
  readonly memory: WebAssembly.Memory;
  readonly shared: boolean;
  readonly maxBytes: number;
  private top = HEAP_BASE;
  private readonly used = new Map<number, number>();
  private readonly freeBySize: Set<number>[] = Array.from({ length: 33 }, () => new Set());
  private readonly freeSize = new Map<number, number>();
  private readonly freeEnd = new Map<number, number>();

  u8!: Uint8Array;
  i8!: Int8Array;
  u16!: Uint16Array;
  i32!: Int32Array;
  f32!: Float32Array;

  constructor(opts: { shared?: boolean } = {}) {
    const wantShared = opts.shared ?? typeof SharedArrayBuffer !== 'undefined';
    let memory: WebAssembly.Memory | undefined;
    let maxPages = 0;
    for (const pages of MAX_PAGES_TRIES) {
      try {
        memory = new WebAssembly.Memory({ initial: 32, maximum: pages, shared: wantShared } as WebAssembly.MemoryDescriptor);
        maxPages = pages;
        break;
      } catch {
        /* reservation refused: try a smaller maximum */
      }
    }
    if (!memory) throw new OutOfMemoryError('cpu backend: could not reserve a WebAssembly.Memory of even 512 MiB');
    this.memory = memory;
    this.shared = wantShared;
    this.maxBytes = maxPages * PAGE;
    this.refreshViews();
  }

  /** Bytes currently reserved from the system (grows, never shrinks). */
  get capacity(): number {
    return this.memory.buffer.byteLength;
  }

  /** Bytes in live blocks. */
  get inUse(): number {
    let n = 0;
    for (const s of this.used.values()) n += s;
    return n;
  }

  /** Allocates `bytes` (≥ 0) and returns the 64-byte-aligned offset. */
  alloc(bytes: number): number {
    if (!(bytes <= this.maxBytes)) {
      throw new OutOfMemoryError(`cpu backend: cannot allocate ${bytes} bytes, over the ${this.maxBytes}-byte maximum (${this.inUse} bytes in use)`);
    }
    const need = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let c = sizeClass(need); c < this.freeBySize.length; c++) {
      for (const off of this.freeBySize[c]) {
        const size = this.freeSize.get(off)!;
        if (size < need) continue;
        this.removeFree(off, size);
        if (size > need) this.insertFree(off + need, size - need);
        this.used.set(off, need);
        return off;
      }
    }
    const off = this.top;
    const end = off + need;
    if (end > this.capacity) this.grow(end, bytes);
    this.top = end;
    this.used.set(off, need);
    return off;
  }

  /** Frees a block returned by `alloc`. */
  free(off: number): void {
    let size = this.used.get(off);
    if (size === undefined) throw new Error(`cpu heap: double free or foreign pointer ${off}`);
    this.used.delete(off);
    let start = off;
    const nextSize = this.freeSize.get(off + size);
    if (nextSize !== undefined) {
      this.removeFree(off + size, nextSize);
      size += nextSize;
    }
    const prev = this.freeEnd.get(off);
    if (prev !== undefined) {
      const prevSize = this.freeSize.get(prev)!;
      this.removeFree(prev, prevSize);
      start = prev;
      size += prevSize;
    }
    if (start + size === this.top) this.top = start;
    else this.insertFree(start, size);
  }

  private insertFree(off: number, size: number): void {
    this.freeBySize[sizeClass(size)].add(off);
    this.freeSize.set(off, size);
    this.freeEnd.set(off + size, off);
  }

  private removeFree(off: number, size: number): void {
    this.freeBySize[sizeClass(size)].delete(off);
    this.freeSize.delete(off);
    this.freeEnd.delete(off + size);
  }

  private grow(end: number, requested: number): void {
    if (end > this.maxBytes) {
      throw new OutOfMemoryError(
        `cpu backend: allocating ${requested} bytes would need ${end} bytes of WebAssembly memory, over its ${this.maxBytes}-byte maximum ` +
          `(${this.inUse} bytes in use); free tensors, use a smaller dtype or a GPU backend`,
      );
    }
    // Grow geometrically (at least 1/8) so repeated small growths stay cheap.
    const cur = this.capacity;
    const target = Math.min(this.maxBytes, Math.max(end, cur + (cur >> 3)));
    try {
      this.memory.grow(Math.ceil((target - cur) / PAGE));
    } catch {
      try {
        this.memory.grow(Math.ceil((end - cur) / PAGE));
      } catch {
        throw new OutOfMemoryError(`cpu backend: the system refused to grow memory to ${end} bytes (${this.inUse} bytes in use)`);
      }
    }
    this.refreshViews();
  }

  /** Re-creates the typed-array views; needed after growth (the buffer object changes). */
  refreshViews(): void {
    const b = this.memory.buffer;
    this.u8 = new Uint8Array(b);
    this.i8 = new Int8Array(b);
    this.u16 = new Uint16Array(b);
    this.i32 = new Int32Array(b);
    this.f32 = new Float32Array(b);
  }
}

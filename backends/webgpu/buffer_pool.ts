/**
 * GPU buffer pool: buffers are bucketed by size class and usage and reused across ops and across
 * `generate()` steps, so a steady-state decode loop allocates nothing.
 *
 * A buffer released while commands that use it are still being recorded (not yet submitted) is
 * parked until the next submit. Kernel outputs may take a parked buffer at once — commands run in
 * recording order, so the new writer comes after the old readers — but uploads may not:
 * `queue.writeBuffer` runs on the queue timeline ahead of unsubmitted commands and could overwrite
 * data a recorded kernel will still read. After a submit, queue order makes any reuse safe.
 */

/** Size classes: 16-byte steps up to 256 bytes, then four classes per power of two (waste < 25%). */
export function sizeClass(bytes: number): number {
  const n = Math.max(16, Math.ceil(bytes / 16) * 16);
  if (n <= 256) return n;
  const step = 2 ** (Math.floor(Math.log2(n)) - 2);
  return Math.ceil(n / step) * step;
}

/** Counters the pool exposes (tests check they return to baseline). */
export interface PoolStats {
  /** Buffers created and not destroyed. */
  liveBuffers: number;
  /** Bytes of those buffers (the pool's real GPU footprint). */
  liveBytes: number;
  /** Of which idle in the free lists. */
  freeBytes: number;
  freeBuffers: number;
  /** Acquisitions served from the free lists / by creating a buffer. */
  hits: number;
  misses: number;
}

/** Creates a GPUBuffer; may throw OutOfMemoryError. */
export type BufferFactory = (size: number, usage: number) => GPUBuffer;

export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  private readonly parked = new Map<string, GPUBuffer[]>();
  private readonly usageOf = new WeakMap<GPUBuffer, number>();
  private stats: PoolStats = { liveBuffers: 0, liveBytes: 0, freeBytes: 0, freeBuffers: 0, hits: 0, misses: 0 };

  /**
   * @param create allocates a buffer of exactly `size` bytes
   * @param maxFreeBytes idle bytes kept for reuse; beyond it released buffers are destroyed
   */
  constructor(
    private readonly create: BufferFactory,
    public maxFreeBytes = 1 << 30,
  ) {}

  /**
   * A buffer of at least `bytes` bytes (rounded to its size class) with exactly `usage`. With
   * `gpuWrite` (the caller only writes it from recorded commands) a parked buffer may be reused.
   */
  acquire(bytes: number, usage: number, gpuWrite = false): GPUBuffer {
    const size = sizeClass(bytes);
    const key = `${usage}:${size}`;
    const b = this.free.get(key)?.pop();
    if (b) {
      this.stats.hits++;
      this.stats.freeBytes -= size;
      this.stats.freeBuffers--;
      return b;
    }
    const p = gpuWrite ? this.parked.get(key)?.pop() : undefined;
    if (p) {
      this.stats.hits++;
      return p;
    }
    this.stats.misses++;
    let buf: GPUBuffer;
    try {
      buf = this.create(size, usage);
    } catch (e) {
      // Out of memory: drop the idle buffers and try once more.
      if (this.stats.freeBytes === 0) throw e;
      this.trim();
      buf = this.create(size, usage);
    }
    this.usageOf.set(buf, usage);
    this.stats.liveBuffers++;
    this.stats.liveBytes += size;
    return buf;
  }

  /** Returns a buffer that recorded commands may still use: reusable by kernel outputs now, by anyone after `onSubmit`. */
  release(buf: GPUBuffer): void {
    const key = `${this.usageOf.get(buf)}:${buf.size}`;
    let list = this.parked.get(key);
    if (!list) this.parked.set(key, (list = []));
    list.push(buf);
  }

  /** Returns a buffer that no recorded command uses: reusable at once. */
  releaseNow(buf: GPUBuffer): void {
    this.recycle(buf);
  }

  /** Called after each queue submit: parked buffers become reusable. */
  onSubmit(): void {
    for (const list of this.parked.values()) for (const b of list) this.recycle(b);
    this.parked.clear();
  }

  private recycle(buf: GPUBuffer): void {
    const size = buf.size;
    if (this.stats.freeBytes + size > this.maxFreeBytes) {
      this.destroy(buf);
      return;
    }
    const key = `${this.usageOf.get(buf)}:${size}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(buf);
    this.stats.freeBytes += size;
    this.stats.freeBuffers++;
  }

  private destroy(buf: GPUBuffer): void {
    this.stats.liveBuffers--;
    this.stats.liveBytes -= buf.size;
    buf.destroy();
  }

  /** Destroys every idle buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) this.destroy(b);
    this.free.clear();
    this.stats.freeBytes = 0;
    this.stats.freeBuffers = 0;
  }

  /** A snapshot of the counters. */
  getStats(): PoolStats {
    return { ...this.stats };
  }
}

/**
 * GPU buffer pool: buffers are bucketed by size class and usage and reused across ops and across
 * `generate()` steps, so a steady-state decode loop allocates nothing.
 *
 * A buffer released while commands that use it are still being recorded (not yet submitted) is
 * parked until the next submit: `queue.writeBuffer` runs on the queue timeline ahead of unsubmitted
 * commands, so handing it out earlier could let an upload overwrite data a recorded kernel will
 * still read. After a submit, queue order makes reuse safe.
 */

/** Size classes: powers of two and 1.5× powers of two (waste ≤ 33%), at least 16 bytes. */
export function sizeClass(bytes: number): number {
  const n = Math.max(16, Math.ceil(bytes / 16) * 16);
  const p = 2 ** Math.ceil(Math.log2(n));
  const mid = (p / 4) * 3;
  return n <= mid && mid % 16 === 0 ? mid : p;
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
  private readonly parked: GPUBuffer[] = [];
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

  /** A buffer of at least `bytes` bytes (rounded to its size class) with exactly `usage`. */
  acquire(bytes: number, usage: number): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(`${usage}:${size}`);
    const b = list?.pop();
    if (b) {
      this.stats.hits++;
      this.stats.freeBytes -= size;
      this.stats.freeBuffers--;
      return b;
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

  /** Returns a buffer; it becomes reusable after the next `onSubmit`. */
  release(buf: GPUBuffer): void {
    this.parked.push(buf);
  }

  /** Returns a buffer that no recorded command uses: reusable at once. */
  releaseNow(buf: GPUBuffer): void {
    this.recycle(buf);
  }

  /** Called after each queue submit: parked buffers become reusable. */
  onSubmit(): void {
    for (const b of this.parked) this.recycle(b);
    this.parked.length = 0;
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

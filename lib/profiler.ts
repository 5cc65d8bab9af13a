/**
 * Opt-in per-kernel profiler: while `profile(fn)` runs, the engine times every kernel call and
 * counts it under its kernel name. Off by default: the engine pays one property check per op.
 * Kernels run synchronously on CPU, so a kernel's wall time is its cost there; GPU backends only
 * queue work, so their figures are dispatch costs.
 */

/** Time and calls of one kernel name during a profile. */
export interface KernelProfile {
  name: string;
  calls: number;
  /** Wall time inside the kernel functions, ms. */
  ms: number;
}

/** What `profile` returns besides `fn`'s result. */
export interface ProfileInfo {
  /** Per kernel name, most time first. */
  kernels: KernelProfile[];
  /** Wall time of the whole `fn`, ms. */
  totalMs: number;
  /** Sum of kernel times, ms (totalMs minus this is time outside kernels: ops, engine, JS). */
  kernelMs: number;
  /** Kernel calls in all. */
  calls: number;
}

/** Accumulates kernel timings; the engine holds one while a profile is active. */
export class KernelTimer {
  private readonly byName = new Map<string, KernelProfile>();

  /** Records one call of `name` that took `ms`. */
  add(name: string, ms: number): void {
    let p = this.byName.get(name);
    if (!p) this.byName.set(name, (p = { name, calls: 0, ms: 0 }));
    p.calls++;
    p.ms += ms;
  }

  /** The collected figures. */
  report(totalMs: number): ProfileInfo {
    const kernels = [...this.byName.values()].sort((a, b) => b.ms - a.ms);
    let kernelMs = 0;
    let calls = 0;
    for (const k of kernels) {
      kernelMs += k.ms;
      calls += k.calls;
    }
    return { kernels, totalMs, kernelMs, calls };
  }
}

/** Formats a profile as an aligned text table (name, calls, total ms, µs per call, share). */
export function formatProfile(p: ProfileInfo): string {
  const lines = [`${'kernel'.padEnd(22)} ${'calls'.padStart(8)} ${'ms'.padStart(10)} ${'µs/call'.padStart(9)} ${'share'.padStart(6)}`];
  for (const k of p.kernels) {
    lines.push(
      `${k.name.padEnd(22)} ${String(k.calls).padStart(8)} ${k.ms.toFixed(2).padStart(10)} ${((k.ms * 1e3) / k.calls).toFixed(1).padStart(9)} ${((100 * k.ms) / p.totalMs).toFixed(1).padStart(5)}%`,
    );
  }
  lines.push(`${'(kernels)'.padEnd(22)} ${String(p.calls).padStart(8)} ${p.kernelMs.toFixed(2).padStart(10)}`);
  lines.push(`${'(outside kernels)'.padEnd(22)} ${''.padStart(8)} ${(p.totalMs - p.kernelMs).toFixed(2).padStart(10)}`);
  lines.push(`${'(total)'.padEnd(22)} ${''.padStart(8)} ${p.totalMs.toFixed(2).padStart(10)}`);
  return lines.join('\n');
}

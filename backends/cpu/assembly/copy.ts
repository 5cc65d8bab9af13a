// Strided copy of contiguous byte runs: the data movement behind transpose (when the last axis
// stays last), slice, writeSlice, concat and gather. Run i = (i0, i1, i2) goes from
// src + i0·ss0 + i1·ss1 + i2·ss2 to dst + i0·ds0 + i1·ds1 + i2·ds2 (byte strides); shares take
// fixed ranges of runs.

import { rowStart } from './elementwise';

/** Copies n0·n1·n2 runs of runBytes bytes. */
export function copyRuns(
  tid: i32, nth: i32, dst: usize, src: usize, runBytes: i32, n0: i32, n1: i32, n2: i32,
  ds0: i32, ds1: i32, ds2: i32, ss0: i32, ss1: i32, ss2: i32,
): void {
  const total = n0 * n1 * n2;
  const e = rowStart(tid + 1, nth, total);
  let i = rowStart(tid, nth, total);
  if (i >= e) return;
  let i2 = i % n2;
  let i1 = (i / n2) % n1;
  let i0 = i / (n1 * n2);
  const rb = <usize>runBytes;
  for (; i < e; i++) {
    memory.copy(
      dst + <usize>i0 * <usize>ds0 + <usize>i1 * <usize>ds1 + <usize>i2 * <usize>ds2,
      src + <usize>i0 * <usize>ss0 + <usize>i1 * <usize>ss1 + <usize>i2 * <usize>ss2,
      rb,
    );
    if (++i2 == n2) {
      i2 = 0;
      if (++i1 == n1) {
        i1 = 0;
        i0++;
      }
    }
  }
}

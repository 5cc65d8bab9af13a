// Tiny kernels that exist only to test the worker pool: which share ran where, and a trap.

/** Writes tid + 1 into the i32 slot `tid` of an array at p (shows every share ran once). */
export function poolMark(tid: i32, nth: i32, p: usize, scale: f32): void {
  store<i32>(p + (<usize>tid << 2), (tid + 1) * <i32>scale);
  nth;
}

/** Traps (wasm `unreachable`) in share `failTid`; other shares do nothing. */
export function poolTrap(tid: i32, nth: i32, failTid: i32): void {
  if (tid == failTid) unreachable();
  nth;
}

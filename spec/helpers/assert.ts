/** Numerical comparison that reports the worst element, and typed-error assertions. */

import { AssertionError, expect } from 'chai';
import { FlashTensorError, Tensor } from '../../index.js';
import { halfUlp } from './half.js';
import { ND } from './reference.js';

export interface CloseOptions {
  /** Absolute tolerance (default 0). */
  atol?: number;
  /** Relative tolerance, times |expected| (default 0). */
  rtol?: number;
  /** Allowed error in units in the last place of a 16-bit format at the expected value. */
  ulps?: number;
  ulpFormat?: 'float16' | 'bfloat16';
  /** Extra absolute tolerance per element (e.g. a summation error bound). */
  atolEach?: ArrayLike<number>;
  /** Prefix for the failure message. */
  msg?: string;
}

/** Tolerances that fit a result of `dtype`: exact for integers, 1 ulp for 16-bit floats. */
export function tolFor(dtype: string, f32: { atol?: number; rtol?: number } = { atol: 1e-6, rtol: 1e-6 }): CloseOptions {
  if (dtype === 'float16' || dtype === 'bfloat16') return { ulps: 1, ulpFormat: dtype };
  if (dtype === 'float32') return f32;
  return { atol: 0, rtol: 0 };
}

type Values = Tensor | ND | ArrayLike<number>;

function unpack(v: Values): { shape: number[] | null; data: ArrayLike<number> } {
  if (v instanceof Tensor) return { shape: v.shape.slice(), data: v.dataSync() };
  if (v instanceof ND) return { shape: v.shape, data: v.data };
  return { shape: null, data: v };
}

function multiIndex(flat: number, shape: number[] | null): string {
  if (!shape) return `[${flat}]`;
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(flat % shape[d]);
    flat = Math.floor(flat / shape[d]);
  }
  return `[${idx.join(', ')}]`;
}

/**
 * Asserts |actual − expected| ≤ atol + rtol·|expected| (+ ulps·ulp(expected)) elementwise, NaN
 * only where NaN is expected and infinities equal. Shapes must match when both are known. The
 * failure names the worst element by multi-index with both values.
 */
export function assertClose(actual: Values, expected: Values, opts: CloseOptions = {}): void {
  const a = unpack(actual);
  const e = unpack(expected);
  const pre = opts.msg ? `${opts.msg}: ` : '';
  if (a.shape && e.shape && (a.shape.length !== e.shape.length || a.shape.some((d, i) => d !== e.shape![i]))) {
    throw new AssertionError(`${pre}shape [${a.shape}] differs from expected [${e.shape}]`);
  }
  if (a.data.length !== e.data.length) throw new AssertionError(`${pre}${a.data.length} values, expected ${e.data.length}`);
  const atol = opts.atol ?? 0;
  const rtol = opts.rtol ?? 0;
  let worst = -1;
  let worstRatio = 1;
  let mismatchKind = '';
  for (let i = 0; i < e.data.length; i++) {
    const x = a.data[i];
    const y = e.data[i];
    if (Number.isNaN(y) || Number.isNaN(x) || !Number.isFinite(y) || !Number.isFinite(x)) {
      const same = (Number.isNaN(x) && Number.isNaN(y)) || x === y;
      if (!same) {
        worst = i;
        worstRatio = Infinity;
        mismatchKind = 'special value';
        break;
      }
      continue;
    }
    let allowed = atol + rtol * Math.abs(y) + (opts.atolEach ? opts.atolEach[i] : 0);
    if (opts.ulps && opts.ulpFormat) allowed += opts.ulps * halfUlp(y, opts.ulpFormat);
    const err = Math.abs(x - y);
    const ratio = allowed === 0 ? (err === 0 ? 0 : Infinity) : err / allowed;
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worst = i;
    }
  }
  if (worst >= 0) {
    const x = a.data[worst];
    const y = e.data[worst];
    throw new AssertionError(
      `${pre}${mismatchKind || 'values differ'} at ${multiIndex(worst, e.shape ?? a.shape)} (flat ${worst}): got ${x}, expected ${y}, ` +
        `error ${Math.abs(x - y)} (${worstRatio === Infinity ? 'no tolerance' : `${worstRatio.toFixed(2)}× the tolerance`}; ` +
        `atol ${atol}, rtol ${rtol}${opts.ulps ? `, ${opts.ulps} ulp ${opts.ulpFormat}` : ''})`,
    );
  }
}

/** Asserts exact equality of values (NaN equals NaN), and shapes when known. */
export function assertEqualValues(actual: Values, expected: Values, msg?: string): void {
  assertClose(actual, expected, { atol: 0, rtol: 0, msg });
}

type ErrorCtor = abstract new (...args: never[]) => Error;

/**
 * Asserts `fn` throws an instance of `Cls` whose message contains every substring. Never accepts
 * a plain TypeError/RangeError (the library must not leak those).
 */
export function expectError(fn: () => unknown, Cls: ErrorCtor, substrings: readonly string[] = []): Error {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  if (err === undefined) throw new AssertionError(`expected ${Cls.name} (${substrings.join(', ')}), but nothing was thrown`);
  if (!(err instanceof Cls)) {
    throw new AssertionError(`expected ${Cls.name}, got ${(err as Error)?.constructor?.name}: ${(err as Error)?.message ?? err}`);
  }
  expect(err, 'library errors must extend FlashTensorError').to.be.instanceOf(FlashTensorError);
  const message = (err as Error).message;
  for (const s of substrings) {
    if (!message.includes(s)) throw new AssertionError(`${Cls.name} message ${JSON.stringify(message)} does not mention ${JSON.stringify(s)}`);
  }
  return err as Error;
}

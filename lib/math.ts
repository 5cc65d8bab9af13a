/** Scalar special functions in float64, shared by kernels and tests. */

const TWO_OVER_SQRT_PI = 1.1283791670955126;

/** Error function, accurate to ~1e-14 relative: Taylor series near 0, continued fraction for erfc beyond. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax < 2.5) {
    // erf(x) = 2/√π · Σ (−1)ⁿ x^(2n+1) / (n! (2n+1))
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 80; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return TWO_OVER_SQRT_PI * sum;
  }
  if (ax > 6) return Math.sign(x);
  return Math.sign(x) * (1 - erfcTail(ax));
}

/**
 * Complementary error function 1 − erf(x), accurate to ~1e-14 relative also where erf(x) is
 * close to ±1 (1 − erf(x) would cancel: for x = 5, erfc is ~1e-12 and 1 − erf loses 4 digits).
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 2.5) return 1 - erf(x); // erfc ≥ 4e-4 here (or > 1 for x < 0): no damaging cancellation
  return erfcTail(x);
}

/** erfc(x) for x ≥ 2.5 by its continued fraction. */
function erfcTail(ax: number): number {
  // erfc(x) = exp(−x²)/√π · 1/(x + 1/2/(x + 1/(x + 3/2/(x + …)))), evaluated with modified Lentz.
  const tiny = 1e-300;
  let f = ax;
  let c = ax;
  let d = 0;
  for (let n = 1; n < 200; n++) {
    const an = n / 2;
    d = ax + an * d;
    d = d === 0 ? tiny : d;
    c = ax + an / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-ax * ax) / (f * Math.sqrt(Math.PI));
}

/** Exact GELU: x·Φ(x) = ½x(1 + erf(x/√2)) = ½x·erfc(−x/√2) (the latter keeps the left tail accurate). */
export function geluErf(x: number): number {
  return 0.5 * x * erfc(-x * Math.SQRT1_2);
}

/** GELU, tanh approximation: ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

/** Shared test helpers for models: locating fixtures, reading expected tensors, comparing. */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors } from '../../index.js';
import { sharedDir } from '../helpers/fixtures.js';

export { REPO_ROOT } from '../helpers/fixtures.js';

/** A fixture model folder, or null when shared/ is not beside the checkout. */
export function fixtureDir(name: string): string | null {
  let s: string;
  try {
    s = sharedDir();
  } catch {
    return null;
  }
  const d = join(s, 'fixtures', 'models', name);
  return existsSync(d) ? d : null;
}

/** A folder under shared/models, or null. */
export function sharedModelDir(name: string): string | null {
  try {
    const d = join(sharedDir(), 'models', name);
    return existsSync(d) ? d : null;
  } catch {
    return null;
  }
}

/** Every tensor of a safetensors file, as plain arrays. */
export async function readExpected(file: string): Promise<Record<string, { shape: number[]; data: Float32Array | Int32Array }>> {
  const f = await openSafetensors(file);
  const out: Record<string, { shape: number[]; data: Float32Array | Int32Array }> = {};
  try {
    for (const e of f.entries()) {
      if (e.loadDType === null) continue;
      const t = await f.read(e.name);
      const d = t.dataSync();
      out[e.name] = { shape: t.shape.slice(), data: (d instanceof Float32Array || d instanceof Int32Array ? d : Int32Array.from(d)) };
      t.dispose();
    }
  } finally {
    await f.close();
  }
  return out;
}

/** Rows of a (B, T) integer tensor as nested arrays. */
export function rows(x: { shape: number[]; data: ArrayLike<number> }): number[][] {
  const [B, T] = x.shape;
  return Array.from({ length: B }, (_, b) => Array.from(x.data).slice(b * T, (b + 1) * T));
}

/** Max |a − b| over positions where mask (B × T) is 1; a, b are (B, T, V). */
export function maxDiffMasked(a: ArrayLike<number>, b: ArrayLike<number>, mask: ArrayLike<number> | null, V: number): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    if (mask && !mask[Math.floor(i / V)]) continue;
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d;
  }
  return m;
}

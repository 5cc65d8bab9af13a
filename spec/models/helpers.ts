/** Shared test helpers for models: locating fixtures, reading expected tensors, comparing. */

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '../../index.js';
import '../../index.js';
import { openCheckpoint } from '../../models/loading/checkpoint.js';

/** The repository root (dist/spec/models → three levels up). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** The `shared/` folder beside the checkout (searched upward; FLASHTENSOR_SHARED overrides). */
export function sharedDir(): string | null {
  if (process.env.FLASHTENSOR_SHARED) return process.env.FLASHTENSOR_SHARED;
  let dir = REPO_ROOT;
  for (let i = 0; i < 4; i++) {
    const cand = join(dir, '..', 'shared');
    if (existsSync(join(cand, 'fixtures'))) return resolve(cand);
    dir = join(dir, '..');
  }
  return null;
}

/** A fixture model folder, or null when shared/ is not there. */
export function fixtureDir(name: string): string | null {
  const s = sharedDir();
  return s && existsSync(join(s, 'fixtures', 'models', name)) ? join(s, 'fixtures', 'models', name) : null;
}

/** Every tensor of a safetensors file, as plain arrays. */
export async function readExpected(file: string): Promise<Record<string, { shape: number[]; data: Float32Array | Int32Array }>> {
  const ck = await openCheckpoint(file);
  const out: Record<string, { shape: number[]; data: Float32Array | Int32Array }> = {};
  for (const e of ck.entries) {
    const t: Tensor = await ck.read(e.name);
    out[e.name] = { shape: t.shape.slice(), data: (e.dtype === 'F32' ? t.dataSync() : Int32Array.from(t.dataSync())) as Float32Array | Int32Array };
    t.dispose();
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

/** Locating the shared reference fixtures and models from any spec. */

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repo root: this file runs as dist/spec/helpers/fixtures.js. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

let shared: string | undefined;

/**
 * The `shared/` folder that sits beside the checkout (`<root>/../shared`, as in CI); a git
 * worktree nested deeper finds it further up. FLASHTENSOR_SHARED overrides.
 */
export function sharedDir(): string {
  if (shared) return shared;
  if (process.env.FLASHTENSOR_SHARED) return (shared = process.env.FLASHTENSOR_SHARED);
  if (process.env.FLASHTENSOR_FIXTURES) return (shared = dirname(process.env.FLASHTENSOR_FIXTURES));
  for (let dir = resolve(REPO_ROOT, '..'); ; dir = dirname(dir)) {
    const candidate = join(dir, 'shared');
    if (existsSync(join(candidate, 'fixtures', 'README.md'))) return (shared = candidate);
    if (dirname(dir) === dir) throw new Error(`shared/fixtures not found beside ${REPO_ROOT} or above it; set FLASHTENSOR_SHARED`);
  }
}

/** Path inside shared/fixtures. */
export const fixture = (...p: string[]) => join(sharedDir(), 'fixtures', ...p);

/** Path inside shared/models. */
export const sharedModel = (...p: string[]) => join(sharedDir(), 'models', ...p);

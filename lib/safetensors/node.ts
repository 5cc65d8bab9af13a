/**
 * Lazy access to Node's file system. `node:fs` and `node:path` are imported dynamically, with a
 * specifier bundlers do not follow, so importing flashtensor in a browser never pulls them in;
 * only calling a path-based safetensors function does, and outside Node that fails with a
 * SafetensorsError saying what to use instead.
 */

import type * as Fs from 'node:fs';
import type * as Path from 'node:path';
import { SafetensorsError } from '../errors.js';

export interface NodeModules {
  fs: typeof Fs;
  path: typeof Path;
}

let modules: Promise<NodeModules> | undefined;

/** Node's `fs` and `path`, or a SafetensorsError naming `what` when they are not available. */
export function nodeModules(what: string): Promise<NodeModules> {
  modules ??= (async () => {
    // Held in variables so bundlers leave the specifiers alone.
    const fsName = 'node:fs';
    const pathName = 'node:path';
    const [fs, path] = await Promise.all([
      import(/* webpackIgnore: true */ /* @vite-ignore */ fsName) as Promise<typeof Fs>,
      import(/* webpackIgnore: true */ /* @vite-ignore */ pathName) as Promise<typeof Path>,
    ]);
    return { fs, path };
  })();
  return modules.catch(() => {
    modules = undefined;
    throw new SafetensorsError(
      `${what}: file paths need Node.js (node:fs is not available here); pass the file's bytes (Uint8Array or ArrayBuffer) or a SafetensorsSource instead`,
    );
  });
}

/** Lets other work run between synchronous chunks (setImmediate in Node, a macrotask elsewhere). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

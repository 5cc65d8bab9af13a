/**
 * Loads @tensorflow/tfjs-core with @tensorflow/tfjs-backend-wasm (XNNPACK) as the baseline the
 * CPU suites compare against, in this process. Node loads the packages' CommonJS builds, and
 * the .wasm files from the package's own dist folder by file path.
 */

import { createRequire } from 'node:module';
import { dirname } from 'node:path';

type Tf = typeof import('@tensorflow/tfjs-core');

/** The baseline, ready to use, and which of its variants runs. */
export interface TfjsWasm {
  tf: Tf;
  /** 'threaded-SIMD', 'SIMD' or 'plain'. */
  variant: string;
  threads: number;
  version: string;
}

export async function loadTfjsWasm(): Promise<TfjsWasm> {
  const require = createRequire(import.meta.url);
  const tf = require('@tensorflow/tfjs-core') as Tf;
  const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs-backend-wasm failed to initialise');
  await tf.ready();
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
  const mt = (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) as boolean;
  const version = (require('@tensorflow/tfjs-backend-wasm/package.json') as { version: string }).version;
  return {
    tf,
    variant: simd && mt ? 'threaded-SIMD' : simd ? 'SIMD' : 'plain',
    threads: wasm.getThreadsCount(),
    version,
  };
}

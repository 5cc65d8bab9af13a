/** The model shipped inside the package: stories260K, a tiny Llama trained on TinyStories (MIT, see its README). */

/** Folder of the bundled stories260K model (Node only: resolved beside the installed package). */
export async function bundledModelDir(): Promise<string> {
  const { fileURLToPath } = await import('node:url');
  const { resolve, dirname } = await import('node:path');
  // This file is dist/models/bundled.js; the model lives in models/bundled/ at the package root.
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../models/bundled/stories260K');
}

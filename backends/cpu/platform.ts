/**
 * What the CPU backend needs to know about the JavaScript runtime it runs in: Node's built-in
 * modules when present (loaded once, with top-level await, so the rest of the backend stays
 * synchronous), the core count, and environment variables. Browsers get `null` for the Node
 * parts and use `navigator.hardwareConcurrency`.
 */

/** The Node built-ins the backend uses. */
export interface NodeApi {
  setFlagsFromString(flags: string): void;
  availableParallelism(): number;
  Worker: typeof import('node:worker_threads').Worker;
}

/** True when running under Node (also in its worker threads). */
export const isNode: boolean = typeof process !== 'undefined' && typeof process.versions?.node === 'string';

async function loadNode(): Promise<NodeApi> {
  // Specifiers in variables keep browser bundlers from trying to resolve Node built-ins.
  const v8Name = 'node:v8', osName = 'node:os', wtName = 'node:worker_threads';
  const [v8, os, wt] = await Promise.all([
    import(v8Name) as Promise<typeof import('node:v8')>,
    import(osName) as Promise<typeof import('node:os')>,
    import(wtName) as Promise<typeof import('node:worker_threads')>,
  ]);
  return {
    setFlagsFromString: (f) => v8.setFlagsFromString(f),
    availableParallelism: () => (typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length),
    Worker: wt.Worker,
  };
}

/** Node's built-ins, or null outside Node. */
export const nodeApi: NodeApi | null = isNode ? await loadNode() : null;

/** Logical cores available to this process (1 when unknown). */
export function hardwareConcurrency(): number {
  if (nodeApi) return Math.max(1, nodeApi.availableParallelism());
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  return Math.max(1, nav?.hardwareConcurrency ?? 1);
}

/** An environment variable (Node only; undefined elsewhere or when unset/empty). */
export function envVar(name: string): string | undefined {
  if (!isNode) return undefined;
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** Whether SharedArrayBuffer exists (Node; cross-origin-isolated pages). */
export const hasSharedArrayBuffer: boolean = typeof SharedArrayBuffer !== 'undefined';

/**
 * Whether this thread may block in Atomics.wait. Node allows it on the main thread; browsers
 * forbid it on their main thread (it throws), where the pool spins instead.
 */
export const canBlock: boolean = (() => {
  if (!hasSharedArrayBuffer) return false;
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
})();

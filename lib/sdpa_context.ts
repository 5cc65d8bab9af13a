/**
 * Which attention implementations a call may use: the `sdpaKernel` scope.
 *
 * In Node the scope rides on AsyncLocalStorage, so it holds for everything `fn` does, across any
 * number of awaits, and two concurrent tasks in different scopes never see each other's set.
 * Elsewhere (browsers) there is no async context: the scope is a stack that holds exactly for
 * synchronous code; for an async `fn` it stays installed until fn's promise settles, so
 * concurrently running tasks share it (the same process-global behaviour as PyTorch's flags).
 */

import { ArgumentError } from './errors.js';

/** The attention implementations, named as in PyTorch's `torch.nn.attention.SDPBackend`. */
export const SDPBackend = {
  MATH: 'MATH',
  EFFICIENT_ATTENTION: 'EFFICIENT_ATTENTION',
  FLASH_ATTENTION: 'FLASH_ATTENTION',
} as const;
export type SDPBackend = (typeof SDPBackend)[keyof typeof SDPBackend];

/** Default priority, highest first: flash → memory-efficient → math. */
export const DEFAULT_PRIORITY: readonly SDPBackend[] = ['FLASH_ATTENTION', 'EFFICIENT_ATTENTION', 'MATH'];

/** The state a scope installs. */
export interface SdpaScope {
  readonly allowed: ReadonlySet<SDPBackend>;
  readonly priority: readonly SDPBackend[];
}

const DEFAULT_SCOPE: SdpaScope = { allowed: new Set(DEFAULT_PRIORITY), priority: DEFAULT_PRIORITY };

interface AsyncStore<T> {
  getStore(): T | undefined;
  run<R>(store: T, fn: () => R): R;
}

// Node's AsyncLocalStorage when present; otherwise a stack (see the module comment).
const als: AsyncStore<SdpaScope> | null = await (async () => {
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) return null;
  const mod = await import('node:async_hooks');
  return new mod.AsyncLocalStorage<SdpaScope>();
})();
const stack: SdpaScope[] = [];

/** True when scopes are carried across awaits per async task (Node). */
export const SDPA_SCOPES_ARE_ASYNC_SAFE = als !== null;

/** The scope in effect for the current (async) context. */
export function currentSdpaScope(): SdpaScope {
  return (als ? als.getStore() : stack[stack.length - 1]) ?? DEFAULT_SCOPE;
}

/** Options of `sdpaKernel`. */
export interface SdpaKernelOptions {
  /** Use the list's order as the priority order (unlisted implementations keep theirs, after). */
  setPriority?: boolean;
}

/**
 * Runs `fn` allowing only `backends` (one or a list) for every `sdpa` call it makes, synchronously
 * or after awaits. The inner list replaces the outer one; the outer set is back on return or throw.
 * Returns whatever `fn` returns (a promise for async functions).
 */
export function sdpaKernel<T>(backends: SDPBackend | readonly SDPBackend[], fn: () => T, opts: SdpaKernelOptions = {}): T {
  const list = typeof backends === 'string' ? [backends] : backends;
  if (!Array.isArray(list)) {
    throw new ArgumentError(`sdpaKernel: 'backends' must be an SDPBackend or a list of them, got ${typeof backends}`);
  }
  const valid = Object.values(SDPBackend) as string[];
  for (const b of list) {
    if (!valid.includes(b)) throw new ArgumentError(`sdpaKernel: unknown backend ${JSON.stringify(b)}; expected one of ${valid.join(', ')}`);
  }
  if (typeof fn !== 'function') throw new ArgumentError(`sdpaKernel: 'fn' must be a function, got ${typeof fn}`);
  const unique = [...new Set(list)];
  const outer = currentSdpaScope();
  const priority = opts.setPriority ? [...unique, ...outer.priority.filter((b) => !unique.includes(b))] : outer.priority;
  const scope: SdpaScope = { allowed: new Set(unique), priority };
  if (als) return als.run(scope, fn);
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => {
      const i = stack.lastIndexOf(scope);
      if (i >= 0) stack.splice(i, 1);
    }) as T;
  }
  stack.pop();
  return result;
}

/**
 * Reading safetensors: `openSafetensors` parses the header(s) of a file, a sharded checkpoint's
 * `*.safetensors.index.json`, or an in-memory buffer, and returns a handle that reads one tensor
 * at a time; `loadSafetensors` reads many, streaming them to a callback or collecting them.
 *
 * Memory: a tensor's bytes go from the file straight into its final storage. On a backend that
 * exposes its host memory (the CPU backend's WebAssembly heap, via `view`) the file is read into
 * the freshly allocated buffer itself; on other backends into one per-tensor array that the
 * backend then takes. Conversions (F64 → float32, I64 → int32, or a `dtype` option) go through
 * one bounded chunk buffer. The file is never read whole.
 */

import type { Backend, DataId } from '../backend.js';
import { assertDType, bytesPerElement, type DType, type StorageArray } from '../dtype.js';
import { allocStorage, ENGINE } from '../engine.js';
import { SafetensorsError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { fill, type Transfer } from './convert.js';
import { LOAD_DTYPE, parseHeader, parseHeaderLength, setOwn, show, type SafetensorsEntry } from './format.js';
import { nodeModules } from './node.js';
import { bufferSource, fileSource, readFully, type SafetensorsSource } from './source.js';

export type { SafetensorsSource };


/** Options for `openSafetensors`. */
export interface SafetensorsOpenOptions {
  /** Largest single read, and the size of the conversion buffer (default 16 MiB). */
  chunkBytes?: number;
}

/** Options for reading one tensor. */
export interface SafetensorsReadOptions {
  /** Convert to this dtype while loading (default: the entry's `loadDType`). */
  dtype?: DType;
  /** Backend to create the tensor on (default: the active one). */
  backend?: string;
  /** Called as bytes arrive: (bytes of this tensor read so far, its byte length). */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** Aborts the read (the partly filled tensor is freed). */
  signal?: AbortSignal;
}

/** Options for `loadSafetensors`. */
export interface SafetensorsLoadOptions extends SafetensorsOpenOptions {
  /** Names to load, or a predicate; default all. Names missing from the file are an error. */
  filter?: readonly string[] | ((name: string, entry: SafetensorsEntry) => boolean);
  /** Target dtype for every tensor, or per tensor (undefined keeps the entry's `loadDType`). */
  dtype?: DType | ((entry: SafetensorsEntry) => DType | undefined);
  /** Backend to create the tensors on (default: the active one). */
  backend?: string;
  /**
   * Streaming: called with each tensor as soon as it is read, and awaited before the next read.
   * The callback owns the tensor (keep, convert, quantize or dispose it); it is not added to
   * the result's `tensors`.
   */
  onTensor?: (name: string, tensor: Tensor, entry: SafetensorsEntry) => void | Promise<void>;
  /** Called as bytes arrive, over all selected tensors: (bytes read, bytes to read in total). */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  /** Aborts the load; tensors already read (and not handed to `onTensor`) are disposed. */
  signal?: AbortSignal;
}

/** What `loadSafetensors` returns. */
export interface LoadedSafetensors {
  /** name → tensor, in file order (empty when `onTensor` is given). */
  tensors: Record<string, Tensor>;
  /** The `__metadata__` string map (for a sharded checkpoint: the shards' maps merged, first shard wins). */
  metadata: Record<string, string>;
  /** A sharded checkpoint's index `metadata` object (e.g. `{total_size}`), as parsed JSON. */
  indexMetadata?: Record<string, unknown>;
}

const DEFAULT_CHUNK = 16 << 20;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A backend whose buffers are host memory it can show as a live typed-array view (the CPU heap:
 * `CpuBackend.view`). Recognised structurally (`view` plus `readSync`), since lib/ may not
 * import backends/.
 */
export interface HostViewBackend extends Backend {
  view(dataId: DataId, size: number, dtype: DType): StorageArray;
  readSync(dataId: DataId, size: number, dtype: DType): StorageArray;
}

/** The backend as a HostViewBackend when it can show its buffers in place, else null. */
export function hostViewBackend(b: Backend): HostViewBackend | null {
  const h = b as Partial<HostViewBackend>;
  return typeof h.view === 'function' && typeof h.readSync === 'function' ? (b as HostViewBackend) : null;
}

/** True when memory behind `buf` can never move or detach (so an async read into it is safe). */
export function isStableBuffer(buf: ArrayBufferLike): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && buf instanceof SharedArrayBuffer;
}

// ------------------------------------------------------------------------------------ handle

interface Shard {
  file: string;
  source: SafetensorsSource;
}

interface Slot {
  entry: SafetensorsEntry;
  shard: Shard;
}

/**
 * An opened safetensors file or sharded checkpoint: the header index plus positioned reads.
 * Close it when done (`loadSafetensors` does this itself).
 */
export class SafetensorsFile {
  private closed = false;

  /** @internal Use `openSafetensors`. */
  constructor(
    /** What was opened: a file path, an index path, or a source label. */
    readonly path: string,
    /** The `__metadata__` map (shards merged, first wins). */
    readonly metadata: Record<string, string>,
    /** The index's `metadata` object for a sharded checkpoint; undefined for one file. */
    readonly indexMetadata: Record<string, unknown> | undefined,
    private readonly slots: Map<string, Slot>,
    private readonly shards: Shard[],
    private readonly chunkBytes: number,
  ) {}

  /** The data files (shards) in read order. */
  get files(): string[] {
    return this.shards.map((s) => s.file);
  }

  /** Tensor names in file order (shard by shard, by position). */
  get names(): string[] {
    return [...this.slots.keys()];
  }

  /** Every entry in file order. */
  entries(): SafetensorsEntry[] {
    return [...this.slots.values()].map((s) => s.entry);
  }

  /** The entry for `name`, or undefined. */
  entry(name: string): SafetensorsEntry | undefined {
    return this.slots.get(name)?.entry;
  }

  /** True when the file (or a shard) holds `name`. */
  has(name: string): boolean {
    return this.slots.has(name);
  }

  /** Sum of the data bytes of all tensors. */
  get totalBytes(): number {
    let n = 0;
    for (const s of this.slots.values()) n += s.entry.byteLength;
    return n;
  }

  private slot(name: string, op: string): Slot {
    if (this.closed) throw new SafetensorsError(`safetensors '${this.path}': ${op}('${name}') after close()`);
    const s = this.slots.get(name);
    if (!s) throw new SafetensorsError(`safetensors '${this.path}': no tensor named '${name}' (${this.slots.size} tensors)`);
    return s;
  }

  /**
   * Reads one tensor, by default as its entry's `loadDType` (F64 → float32 rounded to nearest,
   * I64 → int32 with an error if a value does not fit). With `dtype`, converts while reading:
   * floats round to nearest even, floats to integers truncate toward zero (NaN, ±Inf or out of
   * range is an error), integers to narrower integers must fit, anything to bool is `x != 0`.
   */
  async read(name: string, opts: SafetensorsReadOptions = {}): Promise<Tensor> {
    const { entry, shard } = this.slot(name, 'read');
    const where = `safetensors '${entry.file}': tensor '${name}'`;
    if (entry.loadDType === null) {
      throw new SafetensorsError(
        `${where}: dtype '${entry.dtype}' is not supported (supported: ${Object.keys(LOAD_DTYPE).join(', ')}); ` +
          `leave it out with a filter, or take its raw bytes with readBytes()`,
      );
    }
    if (opts.dtype !== undefined) assertDType(opts.dtype, `${where}: read`);
    if (!LITTLE_ENDIAN) throw new SafetensorsError(`${where}: big-endian hosts are not supported`);
    const dtype = opts.dtype ?? entry.loadDType;
    const backend = opts.backend !== undefined ? await ENGINE.initBackend(opts.backend) : ENGINE.backend;
    opts.signal?.throwIfAborted();

    const size = entry.shape.reduce((a, b) => a * b, 1);
    const ctx: Transfer = {
      src: shard.source,
      position: entry.byteOffset,
      where,
      chunk: this.chunkBytes,
      done: 0,
      total: entry.byteLength,
      onProgress: opts.onProgress,
      signal: opts.signal,
    };
    const host = hostViewBackend(backend);
    if (host) {
      // Straight into the freshly allocated heap buffer; a view is taken anew for every chunk
      // because any allocation may grow (and move) non-shared memory.
      const t = ENGINE.makeTensor(null, entry.shape, dtype, backend);
      const bpe = bytesPerElement(dtype);
      const dst = (byteOffset: number, byteLength: number) => {
        const v = host.view(t.dataId, size, dtype);
        return new Uint8Array(v.buffer, v.byteOffset + byteOffset, byteLength);
      };
      const stable = size === 0 || isStableBuffer(host.view(t.dataId, 0, dtype).buffer);
      try {
        await fill(ctx, entry.dtype, dtype, size, bpe, dst, stable);
      } catch (e) {
        t.dispose();
        throw e;
      }
      return t;
    }
    const storage = allocStorage(dtype, size);
    const bytes = new Uint8Array(storage.buffer, storage.byteOffset, storage.byteLength);
    await fill(ctx, entry.dtype, dtype, size, bytesPerElement(dtype), (o, n) => bytes.subarray(o, o + n), true);
    return ENGINE.makeTensor(storage, entry.shape, dtype, backend);
  }

  /** The tensor's stored bytes, whatever its dtype (e.g. F8 codes, or a JSON blob stored as U8). */
  async readBytes(name: string): Promise<Uint8Array> {
    const { entry, shard } = this.slot(name, 'readBytes');
    const out = new Uint8Array(entry.byteLength);
    await readFully(shard.source, out, entry.byteOffset, `tensor '${name}'`);
    return out;
  }

  /** Closes the file(s). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.shards.map((s) => s.source.close?.()));
  }
}

// ------------------------------------------------------------------------------------ transfer

// ------------------------------------------------------------------------------------ opening

/**
 * Opens a safetensors file (`path`), a sharded checkpoint (a path ending in `.json`: the
 * `*.safetensors.index.json` with `{metadata, weight_map: {name: shard}}`, shard paths relative
 * to the index), an in-memory buffer, or any `SafetensorsSource`. Reads and validates only the
 * header(s); tensors are read on demand with `read(name)`. Every malformed header is a
 * SafetensorsError naming the file, the tensor and the problem.
 */
export async function openSafetensors(
  source: string | Uint8Array | ArrayBuffer | SafetensorsSource,
  opts: SafetensorsOpenOptions = {},
): Promise<SafetensorsFile> {
  const chunk = opts.chunkBytes ?? DEFAULT_CHUNK;
  if (!Number.isSafeInteger(chunk) || chunk < 8) {
    throw new SafetensorsError(`openSafetensors: chunkBytes must be an integer >= 8, got ${show(chunk)}`);
  }
  if (typeof source === 'string') {
    return source.endsWith('.json') ? openIndex(source, chunk) : openSingle(await fileSource(source, 'openSafetensors'), source, chunk);
  }
  if (source instanceof ArrayBuffer) return openSingle(bufferSource(new Uint8Array(source), '<buffer>'), '<buffer>', chunk);
  if (source instanceof Uint8Array) return openSingle(bufferSource(source, '<buffer>'), '<buffer>', chunk);
  return openSingle(source, source.name ?? '<source>', chunk);
}

/** Reads and parses one file's header. Closes the source on failure. */
async function readHeader(source: SafetensorsSource, file: string) {
  try {
    const first = new Uint8Array(8);
    if (source.size >= 8) await readFully(source, first, 0, 'header length');
    const n = parseHeaderLength(first, source.size, file);
    const json = new Uint8Array(n);
    await readFully(source, json, 8, 'header');
    return parseHeader(json, source.size - 8 - n, file);
  } catch (e) {
    await source.close?.();
    throw e;
  }
}

async function openSingle(source: SafetensorsSource, file: string, chunk: number): Promise<SafetensorsFile> {
  const { metadata, entries } = await readHeader(source, file);
  const shard = { file, source };
  const slots = new Map<string, Slot>(entries.map((entry) => [entry.name, { entry, shard }]));
  return new SafetensorsFile(file, metadata, undefined, slots, [shard], chunk);
}

async function openIndex(indexPath: string, chunk: number): Promise<SafetensorsFile> {
  const { fs, path } = await nodeModules('openSafetensors');
  const where = `safetensors index '${indexPath}'`;
  let text: string;
  try {
    text = await fs.promises.readFile(indexPath, 'utf8'); // the index is small JSON, not tensor data
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new SafetensorsError(`${where}: file not found`);
    throw e;
  }
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`${where}: not valid JSON (${(e as Error).message})`);
  }
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObj(root) || !isObj(root.weight_map)) {
    throw new SafetensorsError(`${where}: expected an object with a "weight_map" object mapping tensor names to shard files`);
  }
  if (root.metadata !== undefined && root.metadata !== null && !isObj(root.metadata)) {
    throw new SafetensorsError(`${where}: "metadata" must be an object, got ${show(root.metadata)}`);
  }
  const weightMap = root.weight_map;
  const byShard = new Map<string, string[]>();
  for (const name of Object.keys(weightMap)) {
    const shard = weightMap[name];
    if (typeof shard !== 'string' || shard === '') {
      throw new SafetensorsError(`${where}: weight_map['${name}'] must be a shard file name, got ${show(shard)}`);
    }
    if (!byShard.has(shard)) byShard.set(shard, []);
    byShard.get(shard)!.push(name);
  }
  const dir = path.dirname(indexPath);
  const shards: Shard[] = [];
  const slots = new Map<string, Slot>();
  const metadata: Record<string, string> = {};
  const names = [...byShard.keys()].sort();
  try {
    for (const rel of names) {
      const listed = byShard.get(rel)!;
      if (path.isAbsolute(rel) || path.normalize(rel).split(/[\\/]/).includes('..')) {
        throw new SafetensorsError(`${where}: shard path '${rel}' must be relative to the index and stay inside its folder`);
      }
      const file = path.join(dir, rel);
      let source: SafetensorsSource;
      try {
        source = await fileSource(file, 'openSafetensors');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
          throw new SafetensorsError(
            `${where}: shard '${rel}' (listed for '${listed[0]}'${listed.length > 1 ? ` and ${listed.length - 1} more` : ''}) does not exist`,
          );
        }
        throw e;
      }
      const { metadata: md, entries } = await readHeader(source, file);
      const shard = { file, source };
      shards.push(shard);
      for (const k of Object.keys(md)) if (!(Object.hasOwn(metadata, k))) setOwn(metadata, k, md[k]);
      for (const entry of entries) {
        const prev = slots.get(entry.name);
        if (prev) {
          throw new SafetensorsError(`${where}: tensor '${entry.name}' appears in two shards, '${prev.shard.file}' and '${file}'`);
        }
        slots.set(entry.name, { entry, shard });
      }
      for (const name of listed) {
        if (slots.get(name)?.shard !== shard) {
          throw new SafetensorsError(`${where}: weight_map puts tensor '${name}' in shard '${rel}', but that shard has no tensor of that name`);
        }
      }
    }
  } catch (e) {
    await Promise.all(shards.map((s) => s.source.close?.()));
    throw e;
  }
  const indexMetadata = isObj(root.metadata) ? root.metadata : {};
  return new SafetensorsFile(indexPath, metadata, indexMetadata, slots, shards, chunk);
}

// ------------------------------------------------------------------------------------ loading

/**
 * Loads tensors from a safetensors file, a sharded checkpoint index (`*.json`), a buffer or a
 * source, in file order, one tensor at a time (see `SafetensorsFile.read` for conversions).
 * With `onTensor`, each tensor is handed over as it arrives and nothing is collected, so peak
 * memory stays near what the callback keeps.
 */
export async function loadSafetensors(
  source: string | Uint8Array | ArrayBuffer | SafetensorsSource,
  opts: SafetensorsLoadOptions = {},
): Promise<LoadedSafetensors> {
  const file = await openSafetensors(source, opts);
  const tensors: Record<string, Tensor> = {};
  try {
    let selected: SafetensorsEntry[];
    const { filter } = opts;
    if (filter === undefined) {
      selected = file.entries();
    } else if (typeof filter === 'function') {
      selected = file.entries().filter((e) => filter(e.name, e));
    } else {
      const wanted = new Set(filter);
      const missing = [...wanted].filter((n) => !file.has(n));
      if (missing.length) {
        throw new SafetensorsError(`safetensors '${file.path}': no tensor named ${missing.map((m) => `'${m}'`).join(', ')}`);
      }
      selected = file.entries().filter((e) => wanted.has(e.name));
    }
    const total = selected.reduce((a, e) => a + e.byteLength, 0);
    let before = 0;
    const onProgress = opts.onProgress && ((done: number) => opts.onProgress!(before + done, total));
    for (const entry of selected) {
      const dtype = typeof opts.dtype === 'function' ? opts.dtype(entry) : opts.dtype;
      const t = await file.read(entry.name, { dtype, backend: opts.backend, onProgress, signal: opts.signal });
      before += entry.byteLength;
      if (opts.onTensor) {
        await opts.onTensor(entry.name, t, entry);
      } else {
        setOwn(tensors, entry.name, t);
      }
    }
    if (opts.onProgress && total === 0) opts.onProgress(0, 0);
    const out: LoadedSafetensors = { tensors, metadata: file.metadata };
    if (file.indexMetadata !== undefined) out.indexMetadata = file.indexMetadata;
    return out;
  } catch (e) {
    for (const t of Object.values(tensors)) t.dispose();
    throw e;
  } finally {
    await file.close();
  }
}

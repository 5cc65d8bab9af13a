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
import { assertDType, bytesPerElement, storageCtor, type DType, type StorageArray } from '../dtype.js';
import { allocStorage, ENGINE } from '../engine.js';
import { SafetensorsError } from '../errors.js';
import { decodeBf16, decodeF16, encodeBf16, encodeF16 } from '../float16.js';
import type { Tensor } from '../tensor.js';
import { LOAD_DTYPE, parseHeader, parseHeaderLength, setOwn, show, type SafetensorsEntry } from './format.js';
import { nodeModules, yieldToEventLoop } from './node.js';

/**
 * Random-access bytes: a file, a buffer, a browser `Blob`, an HTTP range reader… Anything with a
 * size and a positioned read can be opened with `openSafetensors`.
 */
export interface SafetensorsSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Name used in error messages (a path, a URL). */
  readonly name?: string;
  /** Reads up to `dst.length` bytes from `position` into `dst`; resolves to how many were read (0 at the end). */
  read(dst: Uint8Array, position: number): Promise<number>;
  /**
   * Optional synchronous read. When present, tensors are read straight into CPU heap memory even
   * when that memory is not shared (a grow could otherwise move it under a pending async read).
   */
  readSync?(dst: Uint8Array, position: number): number;
  /** Releases the source (closes the file). */
  close?(): void | Promise<void>;
}

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

// ------------------------------------------------------------------------------------ sources

function bufferSource(bytes: Uint8Array, name: string): SafetensorsSource {
  const copy = (dst: Uint8Array, position: number) => {
    const n = Math.max(0, Math.min(dst.length, bytes.length - position));
    dst.set(bytes.subarray(position, position + n));
    return n;
  };
  return { size: bytes.length, name, read: async (dst, p) => copy(dst, p), readSync: copy };
}

async function fileSource(path: string, what: string): Promise<SafetensorsSource> {
  const { fs } = await nodeModules(what);
  const fh = await fs.promises.open(path, 'r');
  try {
    const { size } = await fh.stat();
    return {
      size,
      name: path,
      read: async (dst, position) => (await fh.read(dst, 0, dst.length, position)).bytesRead,
      readSync: (dst, position) => fs.readSync(fh.fd, dst, 0, dst.length, position),
      close: () => fh.close(),
    };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

async function readFully(src: SafetensorsSource, dst: Uint8Array, position: number, what: string): Promise<void> {
  let got = 0;
  while (got < dst.length) {
    const n = await src.read(dst.subarray(got), position + got);
    if (n <= 0) throw truncated(src, dst.length, got, position, what);
    got += n;
  }
}

function readFullySync(src: SafetensorsSource, dst: Uint8Array, position: number, what: string): void {
  let got = 0;
  while (got < dst.length) {
    const n = src.readSync!(dst.subarray(got), position + got);
    if (n <= 0) throw truncated(src, dst.length, got, position, what);
    got += n;
  }
}

function truncated(src: SafetensorsSource, want: number, got: number, position: number, what: string): SafetensorsError {
  return new SafetensorsError(
    `safetensors '${src.name ?? '<source>'}': ${what}: the file ended after ${got} of ${want} bytes at offset ${position} (was it truncated or changed while open?)`,
  );
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

interface Transfer {
  src: SafetensorsSource;
  position: number;
  where: string;
  chunk: number;
  done: number;
  total: number;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  signal?: AbortSignal;
}

function progress(ctx: Transfer, n: number): void {
  ctx.done += n;
  ctx.onProgress?.(ctx.done, ctx.total);
}

/** Raw copies: the stored bytes are already the target dtype's storage. */
function isRawCopy(stored: string, dtype: DType): boolean {
  return (LOAD_DTYPE[stored] === dtype && stored !== 'F64' && stored !== 'I64') || (stored === 'BOOL' && dtype === 'uint8');
}

/**
 * Moves a tensor's bytes from the source into its storage. `dst(byteOffset, byteLength)` returns
 * a fresh view of the target bytes; `stable` says an async read may write into such a view.
 */
async function fill(
  ctx: Transfer,
  stored: string,
  dtype: DType,
  size: number,
  bpe: number,
  dst: (byteOffset: number, byteLength: number) => Uint8Array,
  stable: boolean,
): Promise<void> {
  const { src, position, where, chunk } = ctx;
  if (isRawCopy(stored, dtype)) {
    const length = size * bpe;
    let tmp: Uint8Array | undefined;
    for (let o = 0; o < length; o += chunk) {
      ctx.signal?.throwIfAborted();
      const n = Math.min(chunk, length - o);
      if (stable) {
        await readFully(src, dst(o, n), position + o, where);
      } else if (src.readSync) {
        if (o > 0) await yieldToEventLoop();
        readFullySync(src, dst(o, n), position + o, where);
      } else {
        tmp ??= new Uint8Array(Math.min(chunk, length));
        await readFully(src, tmp.subarray(0, n), position + o, where);
        dst(o, n).set(tmp.subarray(0, n));
      }
      progress(ctx, n);
    }
    return;
  }
  // Conversion through one chunk buffer of whole source elements.
  const sbpe = STORED_BYTES[stored];
  const per = Math.max(1, Math.floor(chunk / sbpe));
  const tmp = new Uint8Array(Math.min(per, size) * sbpe);
  for (let i = 0; i < size; i += per) {
    ctx.signal?.throwIfAborted();
    const n = Math.min(per, size - i);
    const part = tmp.subarray(0, n * sbpe);
    await readFully(src, part, position + i * sbpe, where);
    const out = dst(i * bpe, n * bpe);
    convert(part, stored, typedView(out, dtype, n), dtype, i, where);
    progress(ctx, n * sbpe);
  }
}

const STORED_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I8: 1, U8: 1, BOOL: 1 };

function typedView(bytes: Uint8Array, dtype: DType, n: number): StorageArray {
  return new (storageCtor(dtype))(bytes.buffer as ArrayBuffer, bytes.byteOffset, n) as StorageArray;
}

/**
 * Converts `n` stored elements (`src`, whose byteOffset is 0) into `out` (target storage).
 * `base` is the index of the first element, for error messages.
 */
function convert(src: Uint8Array, stored: string, out: StorageArray, dtype: DType, base: number, where: string): void {
  const n = out.length;
  const buf = src.buffer;
  if (stored === 'I64') {
    const w = new Int32Array(buf, 0, 2 * n);
    if (dtype === 'int32') {
      for (let i = 0; i < n; i++) {
        const lo = w[2 * i];
        if (w[2 * i + 1] !== lo >> 31) throw i64Overflow(src, i, base, 'int32', where);
        out[i] = lo;
      }
      return;
    }
    const vals = new Float64Array(n);
    for (let i = 0; i < n; i++) vals[i] = w[2 * i + 1] * 4294967296 + (w[2 * i] >>> 0);
    store(vals, false, out, dtype, base, where, (i) => String(new BigInt64Array(buf, i * 8, 1)[0]));
    return;
  }
  let vals: ArrayLike<number>;
  let fromFloat = true;
  switch (stored) {
    case 'F64': vals = new Float64Array(buf, 0, n); break;
    case 'F32': vals = new Float32Array(buf, 0, n); break;
    case 'F16': vals = decodeF16(new Uint16Array(buf, 0, n)); break;
    case 'BF16': vals = decodeBf16(new Uint16Array(buf, 0, n)); break;
    case 'I32': vals = new Int32Array(buf, 0, n); fromFloat = false; break;
    case 'I8': vals = new Int8Array(buf, 0, n); fromFloat = false; break;
    case 'U8': vals = new Uint8Array(buf, 0, n); fromFloat = false; break;
    case 'BOOL': vals = new Uint8Array(buf, 0, n).map((x) => (x ? 1 : 0)); fromFloat = false; break;
    default: throw new SafetensorsError(`${where}: cannot convert ${stored} to ${dtype}`);
  }
  store(vals, fromFloat, out, dtype, base, where, (i) => String(vals[i]));
}

const INT_RANGE: Partial<Record<DType, [number, number]>> = {
  int32: [-2147483648, 2147483647], int8: [-128, 127], uint8: [0, 255],
};

function store(
  vals: ArrayLike<number>,
  fromFloat: boolean,
  out: StorageArray,
  dtype: DType,
  base: number,
  where: string,
  showValue: (i: number) => string,
): void {
  const n = out.length;
  switch (dtype) {
    case 'float32': (out as Float32Array).set(vals); return;
    case 'float16': encodeF16(vals, out as Uint16Array); return;
    case 'bfloat16': encodeBf16(vals, out as Uint16Array); return;
    case 'bool': for (let i = 0; i < n; i++) out[i] = vals[i] !== 0 ? 1 : 0; return;
  }
  const [lo, hi] = INT_RANGE[dtype]!;
  for (let i = 0; i < n; i++) {
    let v = vals[i];
    if (fromFloat) v = Math.trunc(v);
    if (!(v >= lo && v <= hi)) {
      throw new SafetensorsError(
        `${where}: element ${base + i} = ${showValue(i)} does not fit in ${dtype}${fromFloat ? ' (after truncation toward zero)' : ''}`,
      );
    }
    out[i] = v;
  }
}

function i64Overflow(src: Uint8Array, i: number, base: number, dtype: DType, where: string): SafetensorsError {
  const v = new BigInt64Array(src.buffer, src.byteOffset + i * 8, 1)[0];
  return new SafetensorsError(`${where}: I64 element ${base + i} = ${v} does not fit in ${dtype}`);
}

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

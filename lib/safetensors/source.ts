/** Byte sources for the safetensors reader: in-memory buffers, files (Node), or anything with positioned reads. */

import { SafetensorsError } from '../errors.js';
import { nodeModules } from './node.js';

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

export function bufferSource(bytes: Uint8Array, name: string): SafetensorsSource {
  const copy = (dst: Uint8Array, position: number) => {
    const n = Math.max(0, Math.min(dst.length, bytes.length - position));
    dst.set(bytes.subarray(position, position + n));
    return n;
  };
  return { size: bytes.length, name, read: async (dst, p) => copy(dst, p), readSync: copy };
}

export async function fileSource(path: string, what: string): Promise<SafetensorsSource> {
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

export async function readFully(src: SafetensorsSource, dst: Uint8Array, position: number, what: string): Promise<void> {
  let got = 0;
  while (got < dst.length) {
    const n = await src.read(dst.subarray(got), position + got);
    if (n <= 0) throw truncated(src, dst.length, got, position, what);
    got += n;
  }
}

export function readFullySync(src: SafetensorsSource, dst: Uint8Array, position: number, what: string): void {
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

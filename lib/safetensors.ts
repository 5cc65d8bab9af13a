/**
 * Safetensors I/O. Reading: `openSafetensors` (header index + one-tensor reads, for streaming
 * loaders) and `loadSafetensors` (many tensors, collected or streamed). Writing:
 * `saveSafetensors` (atomic, streamed) and `serializeSafetensors` (in memory).
 *
 * Browser story: this module is exported from the package entry, but nothing here imports
 * `node:fs` statically; path-based calls import it on first use with a specifier bundlers do not
 * follow. In a browser, pass bytes (`Uint8Array`/`ArrayBuffer`) or a `SafetensorsSource` (e.g.
 * over a `Blob` or HTTP range requests) to open/load, and use `serializeSafetensors` to write.
 */

export {
  SAFETENSORS_MAX_HEADER_BYTES,
  layoutSafetensors,
  type SafetensorsEntry,
} from './safetensors/format.js';
export {
  SafetensorsFile,
  loadSafetensors,
  openSafetensors,
  type SafetensorsLoadOptions,
  type LoadedSafetensors,
  type SafetensorsOpenOptions,
  type SafetensorsReadOptions,
  type SafetensorsSource,
} from './safetensors/reader.js';
export { saveBytesAs, savedBytesAs, saveSafetensors, serializeSafetensors, type SafetensorsTensorMap } from './safetensors/writer.js';

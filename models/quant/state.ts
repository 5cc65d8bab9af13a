/**
 * Loading quantized Linear weights from checkpoint tensors with bitsandbytes' key names
 * (docs/quantization.md §3.1, §3.2, §3.5). The format is decided per module from the KEYS:
 * 4-bit iff `P.weight.quant_state.bitsandbytes__*` exists, 8-bit iff `P.SCB` exists, else dense.
 * Every inconsistency is a `QuantStateError` naming the tensor.
 */

import { bytesPerElement, type DType } from '../../lib/dtype.js';
import { ENGINE } from '../../lib/engine.js';
import { QuantStateError } from '../../lib/errors.js';
import { BLOCKSIZES_4BIT, codeTable, NESTED_BLOCKSIZE, type QuantType } from '../../lib/quant_codes.js';
import { savedBytesAs } from '../../lib/safetensors.js';
import type { Tensor } from '../../lib/tensor.js';
import type { Quant4State } from '../../ops/quant/quant4.js';
import { DenseWeight, type LinearWeight } from '../nn/weight.js';
import { BitsAndBytesConfig, type QuantizationConfigDict } from './config.js';
import { Int8Weight } from './int8_weight.js';
import { Quant4Weight, QUANT_STORAGE_DTYPES, type QuantStorage } from './quant4_weight.js';

/** Looks a checkpoint tensor up by its full key. */
export type GetTensor = (key: string) => Tensor | undefined;

const QS = '.weight.quant_state.';
const LAYOUTS = ['row', 'col32', 'col_turing', 'col_ampere'];

/** The quantization format of the Linear at `prefix`, decided from the keys alone. */
export function linearFormatFromKeys(prefix: string, keys: ReadonlySet<string>): 'nf4' | 'fp4' | 'int8' | 'dense' {
  const qs = quantStateKeys(prefix, keys);
  if (qs.length > 1) {
    throw new QuantStateError(`${prefix}.weight: found ${qs.length} quant-state tensors (${qs.join(', ')}); exactly one bitsandbytes__* key is allowed`);
  }
  if (qs.length === 1) {
    const suffix = qs[0].slice(prefix.length + QS.length);
    if (suffix !== 'bitsandbytes__nf4' && suffix !== 'bitsandbytes__fp4') {
      throw new QuantStateError(`${qs[0]}: unknown quant state '${suffix}'; expected bitsandbytes__nf4 or bitsandbytes__fp4`);
    }
    return suffix.slice('bitsandbytes__'.length) as QuantType;
  }
  return keys.has(`${prefix}.SCB`) ? 'int8' : 'dense';
}

function quantStateKeys(prefix: string, keys: ReadonlySet<string>): string[] {
  const start = prefix + QS;
  const out: string[] = [];
  for (const k of keys) if (k.startsWith(start)) out.push(k);
  return out.sort();
}

/**
 * Builds the LinearWeight of the Linear at `prefix` (e.g. `model.layers.0.self_attn.q_proj`) from a
 * checkpoint: `Quant4Weight`, `Int8Weight` or `DenseWeight` as the keys say, validated. The weight
 * holds views of the tensors `getTensor` returns (the data is shared, nothing is copied); the
 * caller still owns those tensors and disposes them as usual (the data lives on in the weight).
 * Small metadata tensors (JSON state, `weight_format`) are read synchronously, so they must live on
 * a backend with synchronous reads (the CPU); see `linearWeightFromStateAsync` otherwise.
 * `config`: the model's `quantization_config` (threshold for 8-bit, compute dtype for 4-bit).
 */
export function linearWeightFromState(
  prefix: string,
  getTensor: GetTensor,
  keys: ReadonlySet<string>,
  config?: BitsAndBytesConfig | QuantizationConfigDict | null,
): LinearWeight {
  return build(prefix, getTensor, keys, toConfig(config), (t) => t.dataSync() as Uint8Array);
}

/** `linearWeightFromState` for any backend: reads the small metadata tensors asynchronously first. */
export async function linearWeightFromStateAsync(
  prefix: string,
  getTensor: GetTensor,
  keys: ReadonlySet<string>,
  config?: BitsAndBytesConfig | QuantizationConfigDict | null,
): Promise<LinearWeight> {
  const bytes = new Map<Tensor, Uint8Array>();
  const fmt = linearFormatFromKeys(prefix, keys);
  const meta = fmt === 'int8' ? [`${prefix}.weight_format`] : fmt === 'dense' ? [] : quantStateKeys(prefix, keys);
  const pre = new Map<string, Tensor | undefined>();
  for (const k of meta) {
    const t = keys.has(k) ? getTensor(k) : undefined;
    pre.set(k, t);
    if (t && t.dtype === 'uint8') bytes.set(t, (await t.data()) as Uint8Array);
  }
  const get: GetTensor = (k) => (pre.has(k) ? pre.get(k) : getTensor(k));
  return build(prefix, get, keys, toConfig(config), (t) => bytes.get(t) ?? (t.dataSync() as Uint8Array));
}

/** A new handle on `t`'s data (optionally reshaped or reinterpreted): the weight's own reference. */
function share(t: Tensor, shape: readonly number[] = t.shape, dtype: DType = t.dtype): Tensor {
  return ENGINE.makeView(t, shape, dtype);
}

function toConfig(c: BitsAndBytesConfig | QuantizationConfigDict | null | undefined): BitsAndBytesConfig {
  if (!c) return new BitsAndBytesConfig();
  return c instanceof BitsAndBytesConfig ? c : BitsAndBytesConfig.fromJSON(c);
}

function need(getTensor: GetTensor, keys: ReadonlySet<string>, key: string, why: string): Tensor {
  const t = keys.has(key) ? getTensor(key) : undefined;
  if (!t) throw new QuantStateError(`${key}: missing (${why})`);
  return t;
}

function build(prefix: string, getTensor: GetTensor, keys: ReadonlySet<string>, config: BitsAndBytesConfig, read: (t: Tensor) => Uint8Array): LinearWeight {
  const fmt = linearFormatFromKeys(prefix, keys);
  if (fmt === 'dense') return new DenseWeight(share(need(getTensor, keys, `${prefix}.weight`, 'the Linear weight')));
  if (fmt === 'int8') return buildInt8(prefix, getTensor, keys, config, read);
  return build4bit(prefix, fmt, getTensor, keys, config, read);
}

function buildInt8(prefix: string, getTensor: GetTensor, keys: ReadonlySet<string>, config: BitsAndBytesConfig, read: (t: Tensor) => Uint8Array): Int8Weight {
  const wKey = `${prefix}.weight`;
  const sKey = `${prefix}.SCB`;
  const fKey = `${prefix}.weight_format`;
  const weight = need(getTensor, keys, wKey, `8-bit layer: ${sKey} exists`);
  const scb = need(getTensor, keys, sKey, '8-bit layer');
  if (weight.dtype !== 'int8' || weight.rank !== 2) throw new QuantStateError(`${wKey}: an 8-bit weight must be int8 [out, in], got ${weight.dtype} [${weight.shape}]`);
  if (scb.dtype !== 'float32' || scb.rank !== 1 || scb.shape[0] !== weight.shape[0]) {
    throw new QuantStateError(`${sKey}: must be float32 [${weight.shape[0]}] (one absmax per row of ${wKey}), got ${scb.dtype} [${scb.shape}]`);
  }
  if (keys.has(fKey)) {
    const f = getTensor(fKey);
    if (!f) throw new QuantStateError(`${fKey}: listed but could not be read`);
    if (f.dtype !== 'uint8' || f.size !== 1) throw new QuantStateError(`${fKey}: must be a 0-d uint8 layout id, got ${f.dtype} [${f.shape}]`);
    const v = read(f)[0];
    if (v !== 0) {
      throw new QuantStateError(
        `${fKey}: weight layout ${v} (${LAYOUTS[v] ?? 'unknown'}) is not supported; only 0 (row-major, bitsandbytes ≥ 0.45) can be loaded`,
      );
    }
  }
  return new Int8Weight({ weight: share(weight), scb: share(scb) }, { threshold: config.llmInt8Threshold });
}

interface StateJson {
  quant_type?: unknown;
  blocksize?: unknown;
  dtype?: unknown;
  shape?: unknown;
  nested_blocksize?: unknown;
  nested_dtype?: unknown;
  nested_offset?: unknown;
}

function build4bit(
  prefix: string, suffixType: QuantType, getTensor: GetTensor, keys: ReadonlySet<string>, config: BitsAndBytesConfig, read: (t: Tensor) => Uint8Array,
): Quant4Weight {
  const qsKey = `${prefix}${QS}bitsandbytes__${suffixType}`;
  const wKey = `${prefix}.weight`;
  const aKey = `${wKey}.absmax`;
  const mKey = `${wKey}.quant_map`;
  const naKey = `${wKey}.nested_absmax`;
  const nmKey = `${wKey}.nested_quant_map`;
  const qsT = need(getTensor, keys, qsKey, '4-bit quant state');
  if (qsT.dtype !== 'uint8' || qsT.rank !== 1) throw new QuantStateError(`${qsKey}: must be uint8 JSON bytes [len], got ${qsT.dtype} [${qsT.shape}]`);
  let js: StateJson;
  try {
    js = JSON.parse(new TextDecoder().decode(read(qsT)));
  } catch (e) {
    throw new QuantStateError(`${qsKey}: not valid JSON (${(e as Error).message})`);
  }
  if (!js || typeof js !== 'object') throw new QuantStateError(`${qsKey}: expected a JSON object`);
  if (js.quant_type !== suffixType) {
    throw new QuantStateError(`${qsKey}: quant_type ${JSON.stringify(js.quant_type)} does not match the key suffix bitsandbytes__${suffixType}`);
  }
  const blocksize = js.blocksize;
  if (typeof blocksize !== 'number' || !BLOCKSIZES_4BIT.includes(blocksize)) {
    throw new QuantStateError(`${qsKey}: blocksize must be one of ${BLOCKSIZES_4BIT.join(', ')}, got ${JSON.stringify(blocksize)}`);
  }
  const shape = js.shape;
  if (!Array.isArray(shape) || shape.length !== 2 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new QuantStateError(`${qsKey}: shape must be [out, in] with positive integers, got ${JSON.stringify(shape)}`);
  }
  const dtype = js.dtype;
  if (dtype !== 'float32' && dtype !== 'float16' && dtype !== 'bfloat16') {
    throw new QuantStateError(`${qsKey}: dtype must be "float32", "float16" or "bfloat16", got ${JSON.stringify(dtype)}`);
  }
  const [N, K] = shape as number[];
  const n = N * K;
  const nb = Math.ceil(n / blocksize);

  // Packed codes: any container dtype, bytes reinterpreted.
  const w = need(getTensor, keys, wKey, '4-bit layer');
  const wBytes = w.size * bytesPerElement(w.dtype);
  if (wBytes !== Math.ceil(n / 2)) {
    throw new QuantStateError(`${wKey}: holds ${wBytes} bytes (${w.dtype} [${w.shape}]) but shape [${N}, ${K}] needs ceil(${n}/2) = ${Math.ceil(n / 2)}`);
  }
  // Raw bytes of a float64 container (read by the loader as uint8, marked with the stored dtype).
  const quantStorage = (savedBytesAs(w)?.dtype === 'F64' ? 'float64' : w.dtype === 'bool' || w.dtype === 'int32' ? 'uint8' : w.dtype) as QuantStorage;
  if (!QUANT_STORAGE_DTYPES.includes(quantStorage) || w.dtype === 'bool' || w.dtype === 'int32') {
    throw new QuantStateError(`${wKey}: a packed 4-bit weight cannot be stored as ${w.dtype}; expected one of ${QUANT_STORAGE_DTYPES.join(', ')}`);
  }

  const quantMap = need(getTensor, keys, mKey, '4-bit layer');
  if (quantMap.dtype !== 'float32' || quantMap.size !== 16) throw new QuantStateError(`${mKey}: must be float32 [16], got ${quantMap.dtype} [${quantMap.shape}]`);
  const table = codeTable(suffixType);
  const mv = quantMap.dataSync();
  for (let i = 0; i < 16; i++) {
    if (!(Math.abs(mv[i] - table[i]) <= 1e-6)) {
      throw new QuantStateError(`${mKey}: entry ${i} is ${mv[i]}, but the ${suffixType} table has ${table[i]} (quant map and quant_type disagree)`);
    }
  }

  const nestedKeys = [naKey, nmKey].filter((k) => keys.has(k));
  const jsonNested = js.nested_blocksize !== undefined || js.nested_offset !== undefined || js.nested_dtype !== undefined;
  const nested = nestedKeys.length > 0 || jsonNested;
  if (nested && nestedKeys.length < 2) {
    throw new QuantStateError(`${jsonNested && !nestedKeys.length ? qsKey : nestedKeys[0]}: double quantization needs ${naKey}, ${nmKey} and nested_* fields in ${qsKey}; found only part of them`);
  }
  if (nested && !jsonNested) throw new QuantStateError(`${qsKey}: ${naKey} exists but the JSON has no nested_blocksize / nested_offset`);
  const absmax = need(getTensor, keys, aKey, '4-bit layer');
  const absDtype: DType = nested ? 'uint8' : 'float32';
  if (absmax.dtype !== absDtype || absmax.size !== nb) {
    throw new QuantStateError(
      `${aKey}: must be ${absDtype} [${nb}] (ceil(${n}/${blocksize}) blocks${nested ? ', double-quantized' : ''}), got ${absmax.dtype} [${absmax.shape}]`,
    );
  }
  let nestedAbsmax: Tensor | undefined;
  let nestedQuantMap: Tensor | undefined;
  let offset: number | undefined;
  if (nested) {
    if (js.nested_blocksize !== NESTED_BLOCKSIZE) {
      throw new QuantStateError(`${qsKey}: nested_blocksize must be ${NESTED_BLOCKSIZE}, got ${JSON.stringify(js.nested_blocksize)}`);
    }
    if (js.nested_dtype !== undefined && js.nested_dtype !== 'float32') {
      throw new QuantStateError(`${qsKey}: nested_dtype must be "float32", got ${JSON.stringify(js.nested_dtype)}`);
    }
    if (typeof js.nested_offset !== 'number' || !Number.isFinite(js.nested_offset)) {
      throw new QuantStateError(`${qsKey}: nested_offset must be a finite number, got ${JSON.stringify(js.nested_offset)}`);
    }
    const na = getTensor(naKey);
    const nm = getTensor(nmKey);
    const nn = Math.ceil(nb / NESTED_BLOCKSIZE);
    if (!na || na.dtype !== 'float32' || na.size !== nn) throw new QuantStateError(`${naKey}: must be float32 [${nn}] (ceil(${nb}/256)), got ${na ? `${na.dtype} [${na.shape}]` : 'nothing'}`);
    if (!nm || nm.dtype !== 'float32' || nm.size !== 256) throw new QuantStateError(`${nmKey}: must be float32 [256], got ${nm ? `${nm.dtype} [${nm.shape}]` : 'nothing'}`);
    nestedAbsmax = share(na, [nn]);
    nestedQuantMap = share(nm, [256]);
    offset = Math.fround(js.nested_offset);
  }
  // The packed bytes as uint8 [ceil(n/2), 1], whatever container dtype they were stored in.
  const state: Quant4State = {
    packed: share(w, [Math.ceil(n / 2), 1], 'uint8'), absmax: share(absmax, [nb]), quantMap: share(quantMap, [16]),
    shape: [N, K], quantType: suffixType, blocksize, dtype,
  };
  if (nested) Object.assign(state, { nestedAbsmax, nestedQuantMap, offset, nestedBlocksize: NESTED_BLOCKSIZE });
  return new Quant4Weight(state, { computeDtype: config.bnb4bitComputeDtype, quantStorage, quantStateTensor: share(qsT) });
}

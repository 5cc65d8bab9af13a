/**
 * Filling a model's declared parameters from a checkpoint. Names are matched with Hugging Face's
 * implicit rules (base-model prefix added or stripped, tied heads aliased, stale rotary buffers
 * skipped); every missing, unexpected and mis-shaped tensor is reported together, before any data
 * is read. Then tensors stream in one at a time, converted to the compute dtype (and quantized,
 * when asked) as each arrives, so peak memory stays near the final model size.
 */

import type { DType } from '../../lib/dtype.js';
import { isFloat } from '../../lib/dtype.js';
import { FlashTensorError } from '../../lib/errors.js';
import type { Tensor } from '../../lib/tensor.js';
import type { DeclaredParameter, Module } from '../nn/module.js';
import type { LinearWeight } from '../nn/weight.js';
import type { Checkpoint, CheckpointEntry } from './checkpoint.js';

/** One parameter whose stored shape differs from the architecture's. */
export interface ShapeMismatch {
  name: string;
  expected: readonly number[];
  found: readonly number[];
}

/** The checkpoint does not fit the architecture; lists every problem at once. */
export class CheckpointMismatchError extends FlashTensorError {
  constructor(
    readonly missing: string[],
    readonly unexpected: string[],
    readonly mismatched: ShapeMismatch[],
    where: string,
  ) {
    const list = (xs: string[]) => (xs.length > 12 ? [...xs.slice(0, 12), `… and ${xs.length - 12} more`] : xs).map((x) => `    ${x}`).join('\n');
    const parts = [`checkpoint '${where}' does not match the model:`];
    if (missing.length) parts.push(`  missing (${missing.length}):\n${list(missing)}`);
    if (unexpected.length) parts.push(`  unexpected (${unexpected.length}):\n${list(unexpected)}`);
    if (mismatched.length) {
      parts.push(`  wrong shape (${mismatched.length}):\n${list(mismatched.map((m) => `${m.name}: expected [${m.expected}], found [${m.found}]`))}`);
    }
    super(parts.join('\n'));
  }
}

/** Progress of a load, after each tensor. */
export interface LoadProgress {
  loadedBytes: number;
  totalBytes: number;
  /** Name of the tensor just loaded. */
  tensor: string;
}

/**
 * Turns a Linear's tensors into its weight: `quantize` gets a freshly read dense weight and may
 * return a quantized LinearWeight (the dense tensor is then freed); `fromPrequantized` builds a
 * weight from a pre-quantized checkpoint's tensors (`weight`, `SCB`, `weight.absmax`, …).
 */
export interface WeightTransform {
  /** Companion key suffixes (relative to the module) that belong to a pre-quantized Linear. */
  companionSuffixes?: readonly string[];
  /** dtype to read a pre-quantized Linear's companions in (default as stored). */
  quantize?(name: string, weight: Tensor): LinearWeight | null;
  fromPrequantized?(name: string, tensors: Record<string, Tensor>): LinearWeight;
  /** Should this Linear be read as pre-quantized (its companions are present in the file)? */
  isPrequantized?(name: string, has: (suffix: string) => boolean): boolean;
}

/** Options of `loadWeights`. */
export interface LoadWeightsOptions {
  /** Compute dtype for floating-point tensors. */
  dtype: DType;
  /** The base model's prefix ('model.' for Llama/OPT, 'transformer.' for Falcon). */
  basePrefix: string;
  /** Report unexpected tensors as an error (default); false only warns. */
  strict?: boolean;
  transform?: WeightTransform;
  onProgress?: (p: LoadProgress) => void;
  /** Label for messages (the folder). */
  where?: string;
}

const IGNORED = [/\.rotary_emb\.inv_freq$/, /(^|\.)attn\.masked_bias$/];

/** Fills every declared parameter of `model` from `ckpt`. */
export async function loadWeights(model: Module, ckpt: Checkpoint, opts: LoadWeightsOptions): Promise<void> {
  const declared = new Map<string, DeclaredParameter>(model.declaredParameters().map((d) => [d.name, d]));
  const fileNames = new Set(ckpt.entries.map((e) => e.name));
  const resolve = (fileName: string): string | null => {
    if (declared.has(fileName)) return fileName;
    const p = opts.basePrefix;
    if (fileName.startsWith(p) && declared.has(fileName.slice(p.length))) return fileName.slice(p.length);
    if (declared.has(p + fileName)) return p + fileName;
    return null;
  };

  // Pre-quantized Linears: their companions (SCB, absmax, …) are grouped under the Linear.
  const t = opts.transform;
  const linearOf = new Map<string, { decl: DeclaredParameter; files: Record<string, CheckpointEntry> }>();
  const plan = new Map<string, CheckpointEntry>(); // model name → entry
  const unexpected: string[] = [];
  const mismatched: ShapeMismatch[] = [];
  for (const e of ckpt.entries) {
    if (IGNORED.some((re) => re.test(e.name))) continue;
    const name = resolve(e.name);
    if (!name) {
      const owner = t?.companionSuffixes && findCompanionOwner(e.name, t.companionSuffixes, resolve);
      if (owner) {
        const d = declared.get(owner.weightName)!;
        const g = linearOf.get(owner.weightName) ?? { decl: d, files: {} };
        g.files[owner.suffix] = e;
        linearOf.set(owner.weightName, g);
        continue;
      }
      unexpected.push(e.name);
      continue;
    }
    const d = declared.get(name)!;
    if (d.spec.tiedTo) continue; // a tied head stored anyway equals the embedding
    plan.set(name, e);
  }
  for (const [name, g] of linearOf) {
    const e = plan.get(name);
    if (e) g.files.weight = e;
  }
  const prequantized = new Set<string>();
  for (const [name, g] of linearOf) {
    if (t?.isPrequantized?.(name, (s) => s in g.files)) prequantized.add(name);
    else unexpected.push(...Object.entries(g.files).filter(([s]) => s !== 'weight').map(([, e]) => e.name));
  }
  for (const [name, e] of plan) {
    if (prequantized.has(name)) continue;
    const spec = declared.get(name)!.spec;
    if (e.shape.length !== spec.shape.length || e.shape.some((d, i) => d !== spec.shape[i])) {
      mismatched.push({ name: e.name, expected: spec.shape, found: e.shape });
    }
  }
  const missing = [...declared.values()]
    .filter((d) => !plan.has(d.name) && !(d.spec.tiedTo && (plan.has(d.spec.tiedTo) || !fileNames.size)))
    .map((d) => d.name);
  const strict = opts.strict ?? true;
  if (missing.length || mismatched.length || (strict && unexpected.length)) {
    throw new CheckpointMismatchError(missing, strict ? unexpected : [], mismatched, opts.where ?? 'checkpoint');
  }
  if (unexpected.length) console.warn(`[flashtensor] ignoring ${unexpected.length} tensors the model does not use: ${unexpected.slice(0, 5).join(', ')}${unexpected.length > 5 ? ', …' : ''}`);

  // Stream, in file order.
  const total = [...plan.values()].reduce((a, e) => a + e.byteLength, 0) +
    [...linearOf].filter(([n]) => prequantized.has(n)).reduce((a, [, g]) => a + Object.entries(g.files).filter(([s]) => s !== 'weight').reduce((x, [, e]) => x + e.byteLength, 0), 0);
  let loaded = 0;
  const report = (tensor: string, bytes: number) => {
    loaded += bytes;
    opts.onProgress?.({ loadedBytes: loaded, totalBytes: total, tensor });
  };
  const values = new Map<string, Tensor | LinearWeight>();
  try {
    for (const [name, e] of [...plan].sort((a, b) => ckpt.entries.indexOf(a[1]) - ckpt.entries.indexOf(b[1]))) {
      const d = declared.get(name)!;
      if (prequantized.has(name)) {
        const g = linearOf.get(name)!;
        const parts: Record<string, Tensor> = {};
        let bytes = 0;
        try {
          for (const [suffix, ce] of Object.entries(g.files)) {
            // A float64 part can only be a container of raw bytes (bnb_4bit_quant_storage=float64):
            // converting its "values" to float32 would destroy them.
            parts[suffix] = ce.dtype === 'F64' ? await ckpt.readRaw(ce.name) : await ckpt.read(ce.name);
            bytes += ce.byteLength;
          }
          const w = t!.fromPrequantized!(name, parts);
          d.module.setParameter(d.field, w);
          values.set(name, w);
        } finally {
          for (const p of Object.values(parts)) p.dispose();
        }
        report(name, bytes);
        continue;
      }
      const tensor = await ckpt.read(e.name, isFloat(opts.dtype) ? opts.dtype : undefined);
      let value: Tensor | LinearWeight = tensor;
      if (d.spec.linear && t?.quantize) {
        const q = t.quantize(name, tensor);
        if (q) {
          tensor.dispose();
          value = q;
        }
      }
      tensor.kept = true;
      d.module.setParameter(d.field, value);
      values.set(name, value);
      report(name, e.byteLength);
    }
  } catch (err) {
    for (const v of values.values()) v.dispose();
    throw err;
  }
  for (const d of declared.values()) {
    if (!plan.has(d.name) && d.spec.tiedTo) d.module.setParameter(d.field, values.get(d.spec.tiedTo)!);
  }
}

function findCompanionOwner(fileName: string, suffixes: readonly string[], resolve: (n: string) => string | null): { weightName: string; suffix: string } | null {
  for (const s of suffixes) {
    if (!fileName.endsWith(`.${s}`)) continue;
    const base = fileName.slice(0, -s.length - 1);
    const weightName = resolve(`${base}.weight`);
    if (weightName) return { weightName, suffix: s };
  }
  return null;
}

/**
 * The module tree. A Module's fields are named after checkpoint keys (`self_attn`, `q_proj`,
 * `weight`); parameters and children are discovered from those fields, so a module's path plus a
 * field name is exactly the safetensors tensor name.
 */

import { bytesPerElement } from '../../lib/dtype.js';
import { Tensor } from '../../lib/tensor.js';
import { isLinearWeight, type LinearWeight } from './weight.js';

/** A parameter: a plain tensor, or a Linear weight that may be quantized. */
export type Parameter = Tensor | LinearWeight;

/**
 * A parameter a module declares before its value exists (modules are built from a config, then
 * a loader fills them from a checkpoint). `linear` marks a Linear weight [out, in], which the
 * loader may store quantized; `tiedTo` names the parameter it aliases when absent from a file.
 */
export interface ParamSpec {
  readonly shape: readonly number[];
  readonly linear: boolean;
  readonly tiedTo?: string;
}

/** One declared parameter with its full dotted name and where to put its value. */
export interface DeclaredParameter {
  name: string;
  spec: ParamSpec;
  module: Module;
  field: string;
}

/** Base class of every layer and model. */
export abstract class Module {
  /** Parameters declared by field name (filled later by `setParameter`). Not a child or parameter itself. */
  declare private paramSpecs?: Map<string, ParamSpec>;

  /** Declares a parameter field that a loader will fill (see ParamSpec). */
  protected declareParameter(field: string, shape: readonly number[], opts: { linear?: boolean; tiedTo?: string } = {}): void {
    if (!this.paramSpecs) Object.defineProperty(this, 'paramSpecs', { value: new Map(), enumerable: false });
    this.paramSpecs!.set(field, { shape: shape.slice(), linear: !!opts.linear, tiedTo: opts.tiedTo });
  }

  /** The spec of a declared field, if any. */
  parameterSpec(field: string): ParamSpec | undefined {
    return this.paramSpecs?.get(field);
  }

  /** Every declared parameter of the tree, loaded or not, with its dotted name. */
  declaredParameters(prefix = ''): DeclaredParameter[] {
    const out: DeclaredParameter[] = [];
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [field, spec] of m.paramSpecs ?? []) out.push({ name: path ? `${path}.${field}` : field, spec, module: m, field });
    }
    return out;
  }

  /** Sets a parameter field (a loader's entry point; a Linear wraps a plain tensor as a dense weight). */
  setParameter(field: string, value: Parameter): void {
    (this as unknown as Record<string, Parameter>)[field] = value;
  }

  /** Child modules, in field order; arrays of modules become `name.0`, `name.1`, … */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Module) out.push([k, v]);
      else if (Array.isArray(v) && v.length && v.every((m) => m instanceof Module)) v.forEach((m, i) => out.push([`${k}.${i}`, m]));
    }
    return out;
  }

  /** This module and every descendant with its dotted path. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [k, m] of this.namedChildren()) out.push(...m.namedModules(prefix ? `${prefix}.${k}` : k));
    return out;
  }

  /** Parameters directly on this module (fields holding tensors or Linear weights; null = absent). */
  ownParameters(): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [k, v] of Object.entries(this)) if (v instanceof Tensor || isLinearWeight(v)) out.push([k, v]);
    return out;
  }

  /** Every parameter with its dotted path (tied parameters appear under each of their names). */
  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [k, p] of m.ownParameters()) out.push([path ? `${path}.${k}` : k, p]);
    }
    return out;
  }

  /** Every tensor to save, flattened: a quantized weight contributes its own keys (`weight`, `SCB`, …). */
  stateDict(prefix = ''): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [name, p] of this.namedParameters(prefix)) {
      if (p instanceof Tensor) out.set(name, p);
      else {
        const base = name.slice(0, name.lastIndexOf('.') + 1);
        for (const [suffix, t] of Object.entries(p.stateTensors())) out.set(`${base}${suffix}`, t);
      }
    }
    return out;
  }

  /** Bytes held by the parameters, counting shared (tied) storage once. */
  getMemoryFootprint(): number {
    const seen = new Set<unknown>();
    let bytes = 0;
    for (const [, p] of this.namedParameters()) {
      // A tied head's dense weight shares the embedding's storage: count it once.
      const inner = (p as unknown as { tensor?: unknown }).tensor;
      const t = p instanceof Tensor ? p : inner instanceof Tensor ? inner : null;
      const key = t ? t.dataId : p;
      if (seen.has(key)) continue;
      seen.add(key);
      bytes += t ? t.size * bytesPerElement(t.dtype) : (p as LinearWeight).byteSize();
    }
    return bytes;
  }

  /** Frees every parameter (shared ones once). */
  dispose(): void {
    const seen = new Set<unknown>();
    for (const [, p] of this.namedParameters()) {
      if (seen.has(p)) continue;
      seen.add(p);
      p.dispose();
    }
  }
}

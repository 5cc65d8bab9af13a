/**
 * Programs: a WGSL compute shader plus how it is bound. Bindings follow one convention — inputs
 * (read-only storage) first, then outputs (read_write storage), then one uniform block — so a
 * bind-group layout depends only on the counts. Shapes, strides and scalars travel in the uniform
 * block, never in the WGSL text, so one pipeline serves every shape of a given rank and dtype.
 */

/** Kinds of uniform fields. */
export type UniformKind = 'u32' | 'i32' | 'f32';

interface Field {
  name: string;
  kind: UniformKind;
  count: number;
  offset: number;
  values: readonly number[];
}

/**
 * Builds a uniform block: named scalars and small arrays packed into `array<vec4<u32>, N>`, with
 * generated accessor functions `u_<name>()` / `u_<name>(i)`. The layout (names, kinds, counts) must
 * depend only on the program key.
 */
export class Uniforms {
  private readonly fields: Field[] = [];
  private size = 0;

  /** Adds an unsigned field (a number or a list). */
  u32(name: string, v: number | readonly number[]): this {
    return this.add(name, 'u32', v);
  }

  /** Adds a signed field. */
  i32(name: string, v: number | readonly number[]): this {
    return this.add(name, 'i32', v);
  }

  /** Adds a float field. */
  f32(name: string, v: number | readonly number[]): this {
    return this.add(name, 'f32', v);
  }

  private add(name: string, kind: UniformKind, v: number | readonly number[]): this {
    const values = typeof v === 'number' ? [v] : v;
    const count = typeof v === 'number' ? 1 : Math.max(1, v.length);
    this.fields.push({ name, kind, count: typeof v === 'number' ? 0 : count, offset: this.size, values });
    this.size += count;
    return this;
  }

  /** Number of vec4 slots. */
  get slots(): number {
    return Math.max(1, Math.ceil(this.size / 4));
  }

  /** A string identifying the layout (part of a pipeline key). */
  get signature(): string {
    return this.fields.map((f) => `${f.name}:${f.kind}${f.count}`).join(',');
  }

  /** WGSL: the uniform declaration at `binding` and the accessors. */
  wgsl(binding: number): string {
    const lines = [`@group(0) @binding(${binding}) var<uniform> U: array<vec4<u32>, ${this.slots}>;`];
    for (const f of this.fields) {
      const cast = (e: string) => (f.kind === 'u32' ? e : `bitcast<${f.kind}>(${e})`);
      if (f.count === 0) {
        lines.push(`fn u_${f.name}() -> ${f.kind} { return ${cast(`U[${f.offset >> 2}u][${f.offset & 3}u]`)}; }`);
      } else {
        lines.push(`fn u_${f.name}(i: u32) -> ${f.kind} { let j = ${f.offset}u + i; return ${cast('U[j >> 2u][j & 3u]')}; }`);
      }
    }
    return lines.join('\n');
  }

  /** The packed values (length = 4 · slots). */
  data(): Uint32Array {
    const out = new Uint32Array(this.slots * 4);
    const f32 = new Float32Array(out.buffer);
    const i32 = new Int32Array(out.buffer);
    for (const f of this.fields) {
      for (let i = 0; i < f.values.length; i++) {
        const at = f.offset + i;
        if (f.kind === 'f32') f32[at] = f.values[i];
        else if (f.kind === 'i32') i32[at] = f.values[i];
        else out[at] = f.values[i] >>> 0;
      }
    }
    return out;
  }
}

/** Element type of a storage binding as the shader declares it. */
export type BindingType = 'u32' | 'f32' | 'i32' | 'vec4<f32>' | 'vec2<u32>' | 'vec4<u32>';

/** A compute program ready to dispatch. */
export interface Program {
  /** Kernel name, for error messages. */
  name: string;
  /** Everything the WGSL depends on besides the uniform layout. */
  key: string;
  /** Storage bindings: inputs (read-only) then outputs (read_write). */
  inputs: readonly BindingType[];
  outputs: readonly BindingType[];
  uniforms: Uniforms;
  /** The shader body: everything after the binding declarations (helpers and `main`). */
  body: () => string;
  /** Needs `enable f16;`. */
  f16?: boolean;
  /** Workgroups to dispatch. */
  grid: readonly [number, number, number];
}

/** Binding variable names used by generated code: in0, in1, …, out0, out1, …. */
export function bindingDecls(p: Program): string {
  const lines: string[] = [];
  p.inputs.forEach((t, i) => lines.push(`@group(0) @binding(${i}) var<storage, read> in${i}: array<${t}>;`));
  p.outputs.forEach((t, i) => lines.push(`@group(0) @binding(${p.inputs.length + i}) var<storage, read_write> out${i}: array<${t}>;`));
  lines.push(p.uniforms.wgsl(p.inputs.length + p.outputs.length));
  return lines.join('\n');
}

/** Full WGSL source of a program. */
export function programSource(p: Program): string {
  return `${p.f16 ? 'enable f16;\n' : ''}${bindingDecls(p)}\n${p.body()}\n`;
}

/** Cache key of a program's pipeline. */
export function pipelineKey(p: Program): string {
  return `${p.name}|${p.key}|${p.inputs.join(',')}|${p.outputs.join(',')}|${p.uniforms.signature}|${p.f16 ? 'h' : ''}`;
}

/** Largest number of workgroups per grid dimension every adapter supports. */
export const MAX_GROUPS = 65535;

/**
 * A 2-D grid covering `n` invocations in workgroups of `wg` (x ≤ 65535). Shaders recover the
 * linear index with `linearIndex(wg)`.
 */
export function grid1d(n: number, wg: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / wg));
  if (groups <= MAX_GROUPS) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_GROUPS);
  return [Math.ceil(groups / y), y, 1];
}

/** WGSL entry-point header for 1-D programs: defines `idx` (the linear invocation index). */
export function main1d(wg: number): string {
  return (
    `@compute @workgroup_size(${wg})\n` +
    `fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {\n` +
    `  let idx = gid.x + gid.y * nwg.x * ${wg}u;\n`
  );
}

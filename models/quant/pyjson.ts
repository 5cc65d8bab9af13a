/**
 * JSON written byte-for-byte like Python's `json.dumps`: separators ", " and ": " (or "," and
 * ": " with indent), keys in insertion order (or sorted), and floats printed like Python's
 * `repr(float)` (`6.0`, `1e-05`, `0.031807661056518555`). JavaScript cannot tell 6 from 6.0, so
 * floats are marked with `pyFloat(x)`; plain numbers must be integers.
 */

import { ArgumentError } from '../../lib/errors.js';

/** A number to print as a Python float. */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Marks `x` to be written as a Python float. */
export function pyFloat(x: number): PyFloat {
  return new PyFloat(x);
}

/** Values `pyJsonDumps` can write. */
export type PyJsonValue = null | boolean | number | string | PyFloat | PyJsonValue[] | { [k: string]: PyJsonValue };

/** Options of `pyJsonDumps`. */
export interface PyJsonOptions {
  /** Spaces per level; with it items go on their own lines (Python `indent=`). */
  indent?: number;
  /** Sort object keys (Python `sort_keys=True`). */
  sortKeys?: boolean;
}

/**
 * Python's `repr(float)`: the shortest digits that round-trip, in fixed notation when the decimal
 * exponent is in [-4, 16) (always with a `.`), else `d.ddde±XX`; `inf`/`nan` as json.dumps writes them.
 */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mant, expStr] = Math.abs(x).toExponential().split('e'); // shortest round-trip digits
  const exp = Number(expStr);
  const digits = mant.replace('.', '');
  if (exp >= -4 && exp < 16) {
    if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
    const intLen = exp + 1;
    if (digits.length <= intLen) return `${sign}${digits}${'0'.repeat(intLen - digits.length)}.0`;
    return `${sign}${digits.slice(0, intLen)}.${digits.slice(intLen)}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : `${Math.abs(exp)}`;
  return `${sign}${m}e${exp < 0 ? '-' : '+'}${e}`;
}

/** Python `json.dumps` string escaping (ensure_ascii=True). */
function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i];
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c < 0x20 || c > 0x7e) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + '"';
}

/** Serializes like Python `json.dumps(value, indent=…, sort_keys=…)`. */
export function pyJsonDumps(value: PyJsonValue, opts: PyJsonOptions = {}): string {
  const indent = opts.indent;
  const write = (v: PyJsonValue, level: number): string => {
    if (v === null) return 'null';
    if (v === true) return 'true';
    if (v === false) return 'false';
    if (v instanceof PyFloat) return pyFloatRepr(v.value);
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new ArgumentError(`pyJsonDumps: ${v} is not an integer; wrap floats with pyFloat()`);
      return Object.is(v, -0) ? '0' : String(v);
    }
    if (typeof v === 'string') return pyString(v);
    const nl = indent === undefined ? '' : '\n' + ' '.repeat(indent * (level + 1));
    const end = indent === undefined ? '' : '\n' + ' '.repeat(indent * level);
    const sep = indent === undefined ? ', ' : ',';
    if (Array.isArray(v)) {
      if (!v.length) return '[]';
      return '[' + v.map((x) => nl + write(x, level + 1)).join(sep) + end + ']';
    }
    let keys = Object.keys(v);
    if (!keys.length) return '{}';
    if (opts.sortKeys) keys = keys.slice().sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return '{' + keys.map((k) => `${nl}${pyString(k)}: ${write(v[k], level + 1)}`).join(sep) + end + '}';
  };
  return write(value, 0);
}

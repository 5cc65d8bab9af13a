/**
 * Small hand-written SVG charts for perf reports (no chart library): grouped bar charts (one
 * group per x value, e.g. a sequence length) and line charts with optional log axes. Output is a
 * self-contained SVG string.
 */

/** One named series; `values[i]` belongs to category / x value i (null = not measured). */
export interface Series {
  name: string;
  color: string;
  values: (number | null)[];
  /** Text drawn under a missing value's slot (bar charts), e.g. 'skip'. */
  missingLabel?: string;
  dashed?: boolean;
}

export interface ChartSpec {
  title: string;
  subtitle?: string;
  /** Category labels (bar chart) or x values (line chart). */
  x: (number | string)[];
  xLabel: string;
  yLabel: string;
  series: Series[];
  logY?: boolean;
  /** Horizontal reference lines, e.g. y = 1 or a target. */
  refLines?: { y: number; label: string; color?: string }[];
  /** Print each bar's value above it (bar charts). */
  labelBars?: boolean;
  width?: number;
  height?: number;
}

const FONT = 'font-family="Helvetica, Arial, sans-serif"';
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toPrecision(2));

/** Plot area and y scale shared by both chart kinds. */
class Frame {
  readonly w: number; readonly h: number;
  readonly left = 70; readonly right: number; readonly top = 56; readonly bottom = 56;
  readonly lo: number; readonly hi: number;
  readonly parts: string[] = [];

  constructor(readonly spec: ChartSpec) {
    // Legend column wide enough for the longest series name (~6.3 px per character at 11 px).
    this.right = Math.max(120, 34 + Math.ceil(6.3 * Math.max(0, ...spec.series.map((s) => s.name.length))));
    this.w = (spec.width ?? 600) + this.right;
    this.h = spec.height ?? 420;
    const vals = spec.series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v) && (!spec.logY || v > 0));
    for (const r of spec.refLines ?? []) vals.push(r.y);
    let lo = Math.min(...vals), hi = Math.max(...vals);
    if (spec.logY) {
      lo = 10 ** Math.floor(Math.log10(lo));
      hi = 10 ** Math.ceil(Math.log10(hi));
    } else {
      lo = Math.min(0, lo);
      hi = niceCeil(hi * 1.08);
    }
    this.lo = lo;
    this.hi = hi;
    this.parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${this.w}" height="${this.h}" viewBox="0 0 ${this.w} ${this.h}" ${FONT}>`);
    this.parts.push(`<rect width="${this.w}" height="${this.h}" fill="white"/>`);
    this.parts.push(`<text x="${this.w / 2 - this.right / 2 + this.left / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">${esc(spec.title)}</text>`);
    if (spec.subtitle) this.parts.push(`<text x="${this.w / 2 - this.right / 2 + this.left / 2}" y="40" text-anchor="middle" font-size="11" fill="#555">${esc(spec.subtitle)}</text>`);
  }

  get plotW(): number { return this.w - this.left - this.right; }
  get plotH(): number { return this.h - this.top - this.bottom; }

  y(v: number): number {
    const t = this.spec.logY ? (Math.log10(v) - Math.log10(this.lo)) / (Math.log10(this.hi) - Math.log10(this.lo)) : (v - this.lo) / (this.hi - this.lo);
    return this.top + this.plotH * (1 - t);
  }

  axes(): void {
    const { left, top, plotW, plotH, spec } = this;
    const ticks: number[] = [];
    if (spec.logY) for (let v = this.lo; v <= this.hi * 1.0001; v *= 10) ticks.push(v);
    else for (let i = 0; i <= 5; i++) ticks.push(this.lo + ((this.hi - this.lo) * i) / 5);
    for (const t of ticks) {
      const y = this.y(t);
      this.parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`);
      this.parts.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end" font-size="11">${fmt(t)}</text>`);
    }
    this.parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`);
    this.parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
    this.parts.push(`<text x="${left + plotW / 2}" y="${this.h - 14}" text-anchor="middle" font-size="12">${esc(spec.xLabel)}</text>`);
    this.parts.push(`<text transform="translate(18 ${top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(spec.yLabel)}</text>`);
    for (const r of spec.refLines ?? []) {
      const y = this.y(r.y);
      this.parts.push(`<line x1="${left}" x2="${left + plotW}" y1="${y}" y2="${y}" stroke="${r.color ?? '#999'}" stroke-dasharray="5 4"/>`);
      this.parts.push(`<text x="${left + plotW - 4}" y="${y - 4}" text-anchor="end" font-size="10" fill="${r.color ?? '#777'}">${esc(r.label)}</text>`);
    }
  }

  legend(): void {
    const x = this.w - this.right + 14;
    this.spec.series.forEach((s, i) => {
      const y = this.top + 8 + i * 20;
      this.parts.push(`<rect x="${x}" y="${y - 9}" width="12" height="12" fill="${s.color}"/>`);
      this.parts.push(`<text x="${x + 18}" y="${y + 1}" font-size="11">${esc(s.name)}</text>`);
    });
  }

  done(): string {
    this.parts.push('</svg>');
    return this.parts.join('\n');
  }
}

function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** Grouped bars: one group per x category, one bar per series. */
export function barChart(spec: ChartSpec): string {
  const f = new Frame(spec);
  f.axes();
  const groups = spec.x.length;
  const gw = f.plotW / groups;
  const bw = (gw * 0.8) / spec.series.length;
  const base = f.y(spec.logY ? f.lo : 0);
  spec.x.forEach((label, gi) => {
    const gx = f.left + gi * gw + gw * 0.1;
    f.parts.push(`<text x="${f.left + gi * gw + gw / 2}" y="${f.top + f.plotH + 18}" text-anchor="middle" font-size="12">${esc(String(label))}</text>`);
    spec.series.forEach((s, si) => {
      const v = s.values[gi];
      const x = gx + si * bw;
      if (v === null || !Number.isFinite(v) || (spec.logY && v <= 0)) {
        if (s.missingLabel) f.parts.push(`<text transform="translate(${x + bw / 2 + 3} ${base - 4}) rotate(-90)" font-size="9" fill="#999">${esc(s.missingLabel)}</text>`);
        return;
      }
      const y = f.y(v);
      f.parts.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${(base - y).toFixed(1)}" fill="${s.color}"><title>${esc(`${s.name}, ${label}: ${fmt(v)}`)}</title></rect>`);
      if (spec.labelBars) f.parts.push(`<text x="${(x + bw / 2).toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="middle" font-size="9">${fmt(v)}</text>`);
    });
  });
  f.legend();
  return f.done();
}

/** Lines over evenly spaced x categories (e.g. sequence lengths doubling each step). */
export function lineChart(spec: ChartSpec): string {
  const f = new Frame(spec);
  f.axes();
  const n = spec.x.length;
  const xAt = (i: number) => f.left + (n === 1 ? f.plotW / 2 : (f.plotW * (i + 0.5)) / n);
  spec.x.forEach((label, i) => f.parts.push(`<text x="${xAt(i)}" y="${f.top + f.plotH + 18}" text-anchor="middle" font-size="12">${esc(String(label))}</text>`));
  for (const s of spec.series) {
    const pts = s.values.map((v, i) => (v === null || !Number.isFinite(v) || (spec.logY && v <= 0) ? null : [xAt(i), f.y(v)] as const));
    let d = '';
    pts.forEach((p, i) => {
      if (!p) return;
      d += `${d && pts[i - 1] ? 'L' : 'M'}${p[0].toFixed(1)} ${p[1].toFixed(1)} `;
    });
    if (d) f.parts.push(`<path d="${d.trim()}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    pts.forEach((p, i) => {
      if (p) f.parts.push(`<circle cx="${p[0].toFixed(1)}" cy="${p[1].toFixed(1)}" r="3.5" fill="${s.color}"><title>${esc(`${s.name}, ${spec.x[i]}: ${fmt(s.values[i]!)}`)}</title></circle>`);
    });
  }
  f.legend();
  return f.done();
}

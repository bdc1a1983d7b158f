/**
 * PNG charts of a run without a browser: a small RGBA canvas (lines, rectangles) and a PNG encoder on
 * node:zlib, no native dependency. Two charts go beside each run file: the latency of every probed path
 * over time with the timeline's events as vertical lines (`<run>.latency.png`), and per-class SLA
 * compliance as bars against the 100 % line (`<run>.sla.png`). Axes carry tick values and titles in a
 * 5 × 7 bitmap font of our own (font.ts): time in s on x, latency in ms or compliance in % on y; the
 * Markdown report names the colours (see {@link PALETTE}, {@link EVENT_COLOURS}) and numbers the bars.
 *
 * Example:
 *   const png = latencyChart([{ label: 'edge1 mpls', points: [[0, 1.2], [500, 1.3]] }], [{ tMs: 250, kind: 'cut' }], 1000);
 *   writeFileSync('latency.png', png);   // 800 × 300 pixels
 */
import { deflateSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import type { RunStore } from './store.ts';
import { drawText, textWidth, GLYPH_H } from './font.ts';

type RGB = readonly [number, number, number];

/** Line colours of the latency chart's series, in order (then repeating). */
export const PALETTE: readonly RGB[] = [[31, 119, 180], [255, 127, 14], [44, 160, 44], [148, 103, 189], [140, 86, 75], [23, 190, 207]];
/** Event marker colours: cuts red, restores green, impairments orange, clears teal, others grey. */
export const EVENT_COLOURS: Record<string, RGB> = { cut: [214, 39, 40], restore: [44, 160, 44], impair: [255, 152, 0], clear: [0, 150, 136] };

/** An RGBA raster, white to start with. */
export class Canvas {
  readonly data: Uint8Array;
  constructor(readonly width: number, readonly height: number) {
    this.data = new Uint8Array(width * height * 4).fill(255);
  }
  set(x: number, y: number, c: RGB): void {
    x = Math.round(x); y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 4;
    this.data[i] = c[0]; this.data[i + 1] = c[1]; this.data[i + 2] = c[2]; this.data[i + 3] = 255;
  }
  rect(x0: number, y0: number, x1: number, y1: number, c: RGB): void {
    for (let y = Math.round(Math.min(y0, y1)); y <= Math.round(Math.max(y0, y1)); y++) for (let x = Math.round(Math.min(x0, x1)); x <= Math.round(Math.max(x0, x1)); x++) this.set(x, y, c);
  }
  /** A line `width` pixels thick (Bresenham, thickened by a square brush). */
  line(x0: number, y0: number, x1: number, y1: number, c: RGB, width = 1): void {
    x0 = Math.round(x0); y0 = Math.round(y0); x1 = Math.round(x1); y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0), dy = -Math.abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    const r = (width - 1) >> 1;
    for (;;) {
      if (r) this.rect(x0 - r, y0 - r, x0 + r, y0 + r, c); else this.set(x0, y0, c);
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) { err += dy; x0 += sx; }
      if (e2 <= dx) { err += dx; y0 += sy; }
    }
  }
  /** Text in the chart font (font.ts) from its top-left corner; `vertical` reads bottom to top from (x, y) as bottom-left. */
  text(x: number, y: number, s: string, c: RGB, vertical = false): void {
    drawText((px, py) => this.set(px, py, c), x, y, s, vertical);
  }
  /** The canvas as a PNG file (8-bit RGBA, no interlace). */
  png(): Buffer {
    const raw = Buffer.alloc((this.width * 4 + 1) * this.height);
    for (let y = 0; y < this.height; y++) {
      raw[y * (this.width * 4 + 1)] = 0; // filter: none
      raw.set(this.data.subarray(y * this.width * 4, (y + 1) * this.width * 4), y * (this.width * 4 + 1) + 1);
    }
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(this.width, 0); ihdr.writeUInt32BE(this.height, 4);
    ihdr[8] = 8; ihdr[9] = 6; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
    return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
  }
}

const CRC = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; t[n] = c >>> 0; }
  return t;
})();
/** CRC-32 as PNG chunks use it (ISO 3309). */
export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0); head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
  return Buffer.concat([head, body, crc]);
}

const AXIS: RGB = [60, 60, 60], GRID: RGB = [225, 225, 225], TEXT: RGB = [40, 40, 40];
/** Plot margins: the left one holds the y title and tick values, the bottom one x tick values, the x title and the legend swatches. */
const PAD = { l: 40, r: 10, t: 10, b: 44 };

/** Drawing options of both charts. */
export interface ChartOptions {
  width?: number;
  height?: number;
  /** Axis titles and tick values (default true); false leaves the margins empty. */
  labels?: boolean;
}

/** The smallest of `steps` × unit whose spacing in pixels is at least `minPx`. */
function labelStep(pxPerUnit: number, minPx: number, steps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000]): number {
  return steps.find((k) => k * pxPerUnit >= minPx) ?? steps[steps.length - 1]!;
}

/** A number as a short tick label: integers as they are, else one decimal. */
const tick = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

/** Tick values right-aligned left of the y axis, and the y title turned up the left edge. */
function yLabels(c: Canvas, ticks: readonly { v: number; y: number }[], title: string, plotH: number): void {
  for (const t of ticks) {
    const s = tick(t.v);
    c.line(PAD.l - 3, t.y, PAD.l, t.y, AXIS);
    c.text(PAD.l - 5 - textWidth(s), Math.round(t.y - GLYPH_H / 2), s, TEXT);
  }
  c.text(2, PAD.t + Math.round((plotH + textWidth(title)) / 2), title, TEXT, true);
}

/** One line of the latency chart: `points` are [t ms since t0, latency ms]; null latency breaks the line (path down). */
export interface Series { label: string; points: readonly (readonly [number, number | null])[] }

/**
 * Latency per path over time: one coloured line per series (PALETTE order), events as vertical lines
 * (EVENT_COLOURS), grid lines every 10 ms of latency (every 100 ms above 200 ms) and every second.
 * Default size 800 × 300 pixels.
 */
export function latencyChart(series: readonly Series[], events: readonly { tMs: number; kind: string }[], durationMs: number, opts: ChartOptions = {}): Buffer {
  const size = { width: opts.width ?? 800, height: opts.height ?? 300 };
  const c = new Canvas(size.width, size.height);
  const w = size.width - PAD.l - PAD.r, h = size.height - PAD.t - PAD.b;
  const top = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[1] ?? 0))) * 1.1;
  const x = (t: number) => PAD.l + (Math.min(Math.max(t, 0), durationMs) / durationMs) * w;
  const y = (ms: number) => PAD.t + h - (ms / top) * h;
  const step = top > 200 ? 100 : top > 20 ? 10 : 1;
  for (let v = step; v < top; v += step) c.line(PAD.l, y(v), PAD.l + w, y(v), GRID);
  for (let t = 1000; t < durationMs; t += 1000) c.line(x(t), PAD.t, x(t), PAD.t + h, GRID);
  for (const e of events) c.line(x(e.tMs), PAD.t, x(e.tMs), PAD.t + h, EVENT_COLOURS[e.kind] ?? [150, 150, 150], 2);
  series.forEach((s, i) => {
    const col = PALETTE[i % PALETTE.length]!;
    for (let k = 1; k < s.points.length; k++) {
      const [t0, v0] = s.points[k - 1]!, [t1, v1] = s.points[k]!;
      if (v0 !== null && v1 !== null) c.line(x(t0), y(v0), x(t1), y(v1), col, 2);
    }
  });
  c.line(PAD.l, PAD.t, PAD.l, PAD.t + h, AXIS); c.line(PAD.l, PAD.t + h, PAD.l + w, PAD.t + h, AXIS);
  if (opts.labels ?? true) {
    // x: seconds, labelled at a step that keeps labels ≥ 30 px apart; y: ms at multiples of the grid step ≥ 14 px apart.
    const sStep = labelStep(w / (durationMs / 1000), 30);
    for (let sec = 0; sec * 1000 <= durationMs; sec += sStep) {
      const s = String(sec);
      c.line(x(sec * 1000), PAD.t + h, x(sec * 1000), PAD.t + h + 3, AXIS);
      c.text(Math.round(x(sec * 1000) - textWidth(s) / 2), PAD.t + h + 5, s, TEXT);
    }
    c.text(PAD.l + Math.round((w - textWidth('time (s)')) / 2), PAD.t + h + 15, 'time (s)', TEXT);
    const vStep = step * labelStep((step / top) * h, 14, [1, 2, 5, 10, 20, 50]);
    const ticks: { v: number; y: number }[] = [];
    for (let v = 0; v < top; v += vStep) ticks.push({ v, y: y(v) });
    yLabels(c, ticks, 'latency (ms)', h);
  }
  // Legend: a swatch per series under the x axis, in order.
  series.forEach((_, i) => c.rect(PAD.l + i * 24, size.height - 9, PAD.l + i * 24 + 16, size.height - 3, PALETTE[i % PALETTE.length]!));
  return c.png();
}

/**
 * Per-class SLA compliance (0…1) as bars, green at or above `min`, red below, with the 100 % line; y ticks
 * every 20 %, each bar numbered from 1 under the axis (the report's legend names them). Default 400 × 300.
 */
export function complianceChart(bars: readonly { label: string; value: number | null; min: number }[], opts: ChartOptions = {}): Buffer {
  const size = { width: opts.width ?? 400, height: opts.height ?? 300 };
  const c = new Canvas(size.width, size.height);
  const w = size.width - PAD.l - PAD.r, h = size.height - PAD.t - PAD.b;
  const y = (v: number) => PAD.t + h - v * h;
  for (let v = 0.1; v < 1.001; v += 0.1) c.line(PAD.l, y(v), PAD.l + w, y(v), GRID);
  const slot = w / Math.max(1, bars.length);
  bars.forEach((b, i) => {
    const x0 = PAD.l + i * slot + slot * 0.2, x1 = PAD.l + (i + 1) * slot - slot * 0.2;
    if (b.value !== null) c.rect(x0, y(Math.max(0, Math.min(1, b.value))), x1, y(0), b.value >= b.min ? [44, 160, 44] : [214, 39, 40]);
    c.line(x0 - 4, y(b.min), x1 + 4, y(b.min), AXIS, 2);
    if (opts.labels ?? true) c.text(Math.round((x0 + x1) / 2 - textWidth(String(i + 1)) / 2), PAD.t + h + 5, String(i + 1), TEXT);
  });
  c.line(PAD.l, PAD.t, PAD.l, PAD.t + h, AXIS); c.line(PAD.l, PAD.t + h, PAD.l + w, PAD.t + h, AXIS);
  if (opts.labels ?? true) {
    yLabels(c, [0, 20, 40, 60, 80, 100].map((v) => ({ v, y: y(v / 100) })), 'compliance (%)', h);
    c.text(PAD.l + Math.round((w - textWidth('sla assertion')) / 2), PAD.t + h + 15, 'sla assertion', TEXT);
  }
  return c.png();
}

/**
 * Render a run's two charts beside its file (`X.duckdb` → `X.latency.png`, `X.sla.png`) by SQL over the
 * run's tables: path_state RTT p50 per edge and path, the fired events, the sla assertions. Returns the
 * paths written and a legend (series and bars in colour order) for the report.
 */
export async function renderRunCharts(store: RunStore, runId: string, runFile: string): Promise<{ files: string[]; legend: string }> {
  const [run] = await store.query('select duration_ms from runs where run_id = $1', [runId]);
  const rows = await store.query(`select node || ' ' || transport || ' → ' || peer as label, t_ms, case when state <> 'down' then rtt_p50_ms end as rtt
    from path_state where run_id = $1 order by label, t_ms`, [runId]);
  const by = new Map<string, [number, number | null][]>();
  for (const r of rows) {
    const k = String(r.label);
    if (!by.has(k)) by.set(k, []);
    by.get(k)!.push([Number(r.t_ms), r.rtt === null || r.rtt === undefined ? null : Number(r.rtt)]);
  }
  const series = [...by].map(([label, points]) => ({ label, points }));
  const events = (await store.query('select coalesce(fired_ms, t_ms) as t, kind from events where run_id = $1 and error is null', [runId])).map((e) => ({ tMs: Number(e.t), kind: String(e.kind) }));
  const sla = await store.query(`select name, measured, expected from assertions where run_id = $1 and kind = 'sla' order by idx`, [runId]);
  const base = runFile.replace(/\.duckdb$/, '');
  const files = [`${base}.latency.png`, `${base}.sla.png`];
  writeFileSync(files[0]!, latencyChart(series, events, Number(run?.duration_ms ?? 1000)));
  writeFileSync(files[1]!, complianceChart(sla.map((a) => ({ label: String(a.name), value: a.measured === null ? null : Number(a.measured), min: Number(/([\d.]+)%/.exec(String(a.expected))?.[1] ?? 0) / 100 }))));
  const legend = `latency chart (path RTT p50 over time, broken while the path is down; vertical lines: red cut, green restore, orange impair, teal clear) — ${series.map((s, i) => `${['blue', 'orange', 'green', 'purple', 'brown', 'cyan'][i % 6]}: ${s.label}`).join(', ') || 'no path samples'}; SLA chart — bars numbered left to right: ${sla.map((a, i) => `${i + 1} ${a.name}`).join(', ') || 'no sla assertions'} (black tick: the assertion's minimum)`;
  return { files, legend };
}

/**
 * Calibration: measure every delay-line link of a deployed netns lab against the parameters in effect
 * (as the delay line reports them) with raw-frame probes, and judge each metric against a tolerance.
 * Delay is judged on the median (±1 ms, widened by the jitter), loss against a binomial bound (three
 * times wider for Gilbert–Elliott, whose losses are correlated), rate within ±5 %.
 */
import { readFileSync } from 'node:fs';
import { delayLineSocket, stateFile } from '../providers/netns/names.ts';
import { existsSync } from 'node:fs';
import { DelayLine, type DirStats } from './control.ts';
import { NotFoundError } from '../provider.ts';
import { delaysMs, median, percentile, probe, rxRateBps } from './probe.ts';

/** One measured metric of one direction of one link. Units: ms for delay/jitter, fraction for loss, bit/s for rate. */
export interface CalibrationRow {
  link: string;
  /** "a:eth0 → b:eth0" */
  direction: string;
  metric: 'delay' | 'jitter' | 'loss' | 'rate' | 'down';
  configured: number;
  measured: number;
  /** Accepted range of `measured`. */
  low: number;
  high: number;
  ok: boolean;
}

/** Probe sizes; the defaults take about 1.5 s per direction plus 1.5 s per rate-limited direction. */
export interface CalibrateOptions { probes?: number; intervalUs?: number; rateSeconds?: number }

function expectedLoss(d: DirStats): number {
  if (d.loss_kind === 1) return d.p;
  if (d.loss_kind === 2) return d.p + d.r === 0 ? d.loss_good : (d.p / (d.p + d.r)) * d.loss_bad + (d.r / (d.p + d.r)) * d.loss_good;
  return 0;
}

/** Measure one direction (`dir` of link `position`, `from` → `to`) against the parameters in `d`. */
async function calibrateDirection(lab: string, link: string, from: string, to: string, d: DirStats, o: Required<CalibrateOptions>): Promise<CalibrationRow[]> {
  const direction = `${from} → ${to}`;
  const row = (metric: CalibrationRow['metric'], configured: number, measured: number, low: number, high: number): CalibrationRow =>
    ({ link, direction, metric, configured, measured, low, high, ok: measured >= low && measured <= high });
  const r = await probe(lab, from, to, { count: o.probes, intervalUs: o.intervalUs, idleMs: 300 + d.delay_ns / 1e6 + d.jitter_ns / 1e6 });
  if (d.down) return [row('down', 1, r.received.length ? 0 : 1, 1, 1)];
  const rows: CalibrationRow[] = [];
  const delay = d.delay_ns / 1e6, jitter = d.jitter_ns / 1e6;
  const ds = delaysMs(r);
  rows.push(row('delay', delay, median(ds), delay - 1 - jitter, delay + 1 + jitter));
  if (jitter > 0) rows.push(row('jitter', jitter, (percentile(ds, 95) - percentile(ds, 5)) / 2, 0.2 * jitter, 1.1 * jitter + 0.5));
  const p = expectedLoss(d);
  const lost = 1 - r.received.length / Math.max(1, r.sent);
  const bound = (d.loss_kind === 2 ? 3 : 1) * 4 * Math.sqrt((p * (1 - p)) / Math.max(1, r.sent)) + 0.005;
  rows.push(row('loss', p, lost, Math.max(0, p - bound), p + bound));
  if (d.rate_bps > 0) {
    const size = 1500;
    const intervalUs = Math.max(1, Math.floor((size * 8 * 1e6) / (1.25 * d.rate_bps)));
    const count = Math.max(200, Math.floor((o.rateSeconds * 1e6) / intervalUs));
    const rr = await probe(lab, from, to, { count, intervalUs, size, idleMs: 500 + d.delay_ns / 1e6 });
    // Heavy loss ahead of the bottleneck can leave it unsaturated: expect the smaller of the two.
    const expected = Math.min(d.rate_bps, 1.25 * d.rate_bps * (1 - p));
    rows.push(row('rate', expected, rxRateBps(rr), 0.95 * expected, 1.05 * expected));
  }
  return rows;
}

/**
 * Measure every delay-line link of deployed lab `lab`, direction by direction, one at a time (probes of
 * one link do not load another). Links without a delay line are not measured.
 * Example: `(await calibrateLab('two-site-dual-wan')).filter((r) => !r.ok)` lists what is out of tolerance.
 */
export async function calibrateLab(lab: string, opts: CalibrateOptions = {}): Promise<CalibrationRow[]> {
  const o = { probes: opts.probes ?? 2000, intervalUs: opts.intervalUs ?? 500, rateSeconds: opts.rateSeconds ?? 1.5 };
  if (!existsSync(stateFile(lab))) throw new NotFoundError(`lab "${lab}" is not deployed (no ${stateFile(lab)})`);
  const links = (JSON.parse(readFileSync(stateFile(lab), 'utf8')) as { links: [string, string][] }).links;
  const rows: CalibrationRow[] = [];
  for (const [position, ends] of links.entries()) {
    const socket = delayLineSocket(lab, position);
    if (!existsSync(socket)) continue;
    const st = await new DelayLine(socket).stats();
    for (const dir of [0, 1] as const) {
      rows.push(...await calibrateDirection(lab, `${ends[0]} — ${ends[1]}`, ends[dir], ends[1 - dir]!, st.dirs[dir], o));
    }
  }
  return rows;
}

/** A number in a row's unit, for the table. */
export function formatMetric(metric: CalibrationRow['metric'], v: number): string {
  if (!Number.isFinite(v)) return '—';
  if (metric === 'loss') return `${(v * 100).toFixed(2)}%`;
  if (metric === 'rate') return `${(v / 1e6).toFixed(3)}mbit`;
  if (metric === 'down') return v ? 'down' : 'up';
  return `${v.toFixed(3)}ms`;
}

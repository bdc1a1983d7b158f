/**
 * The receiver-side arithmetic of a scenario flow, pure: generator records (gen.mjs) → per-interval rows
 * of the flows table (sent, received, lost, latency percentiles, RFC 3550 jitter, longest silence,
 * goodput) and the flow's silences (the gaps table). Times are wall-clock ms; intervals are counted from
 * the run's t0.
 *
 * Example:
 *   const recs = lines.map(parseRecord);
 *   flowIntervals(sendsOf(recs), arrivalsOf(recs), { t0, intervalMs: 1000, count: 20 })[6].lost  // → 12
 */

/** "s T FIRST END LATE": sequences [first, end) left in the batch that ended at `t`; worst timer lateness `lateMs`. */
export interface SendBatch { t: number; first: number; end: number; lateMs: number }
/** "p SEQ SENT RECV": one datagram as the receiver saw it. */
export interface Arrival { seq: number; sent: number; recv: number }
/** "b T BYTES LATE": bytes received (or written) in the 100 ms before `t`. */
export interface ByteBatch { t: number; bytes: number; lateMs: number }
/** "t T TICKS L1 L2 …": the send timer fired `ticks` times before `t`; `late` holds the lateness (ms) of those ≥ 1 ms late. */
export interface TimerBatch { t: number; ticks: number; late: number[] }
export type GenRecord = ({ kind: 's' } & SendBatch) | ({ kind: 'p' } & Arrival) | ({ kind: 'b' } & ByteBatch) | ({ kind: 't' } & TimerBatch);

/** One generator output line → a record; undefined for anything else ("ready", noise). */
export function parseRecord(line: string): GenRecord | undefined {
  const f = line.trim().split(' ');
  const n = f.slice(1).map(Number);
  if (n.some((x) => !Number.isFinite(x))) return undefined;
  if (f[0] === 's' && n.length === 4) return { kind: 's', t: n[0]!, first: n[1]!, end: n[2]!, lateMs: n[3]! };
  if (f[0] === 'p' && n.length === 3) return { kind: 'p', seq: n[0]!, sent: n[1]!, recv: n[2]! };
  if (f[0] === 'b' && n.length === 3) return { kind: 'b', t: n[0]!, bytes: n[1]!, lateMs: n[2]! };
  if (f[0] === 't' && n.length >= 2 && n.length - 2 <= n[1]!) return { kind: 't', t: n[0]!, ticks: n[1]!, late: n.slice(2) };
  return undefined;
}

/**
 * The p-th percentile of timer lateness over every tick of these batches: ticks under 1 ms late (not listed)
 * count as 0. 0 with no ticks.
 */
export function timerLatePercentile(batches: TimerBatch[], p: number): number {
  const ticks = batches.reduce((a, b) => a + b.ticks, 0);
  if (!ticks) return 0;
  const late = batches.flatMap((b) => b.late).sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * ticks);       // nearest rank, 1-based
  const i = rank - (ticks - late.length);           // its index among the listed ticks, 1-based
  return i <= 0 ? 0 : late[i - 1]!;
}

/** One row of the flows table for one interval. Latency and jitter in ms (null with nothing received), goodput in bit/s. */
export interface IntervalRow {
  interval: number;
  /** Interval start, ms since t0. */
  tMs: number;
  sent: number;
  received: number;
  lost: number;
  duplicates: number;
  latP50: number | null;
  latP95: number | null;
  latP99: number | null;
  jitter: number | null;
  /** Longest silence between consecutive arrivals that ended in this interval (ms). */
  maxGap: number | null;
  goodputBps: number | null;
}

/** Nearest-rank percentile (p in 0..100) of a non-empty sorted list. */
export function percentileSorted(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * RFC 3550 §6.4.1 interarrival jitter over arrivals in receive order: J += (|D(i−1,i)| − J) / 16, where D is
 * the difference of the two packets' transit times (recv − sent). Returns the estimate after each packet.
 * Example: transits 10, 12, 10 → [0, 0.125, 0.242…].
 */
export function rfc3550Jitter(arrivals: readonly Arrival[]): number[] {
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < arrivals.length; i++) {
    if (i > 0) {
      const d = (arrivals[i]!.recv - arrivals[i]!.sent) - (arrivals[i - 1]!.recv - arrivals[i - 1]!.sent);
      j += (Math.abs(d) - j) / 16;
    }
    out.push(j);
  }
  return out;
}

/**
 * Per-interval rows of a datagram flow. A sequence belongs to the interval of the send batch holding it,
 * for the sent and for the received count alike, so a packet never counts as lost in one interval and
 * received in the next; latency is recv − sent of the packets received, jitter the RFC 3550 estimate at
 * the interval's last arrival (in receive order), duplicates count once. `count` intervals from t0.
 */
export function flowIntervals(sends: readonly SendBatch[], arrivals: readonly Arrival[], o: { t0: number; intervalMs: number; count: number }): IntervalRow[] {
  const idx = (t: number) => Math.floor((t - o.t0) / o.intervalMs);
  const rows: IntervalRow[] = Array.from({ length: o.count }, (_, i) => ({
    interval: i, tMs: i * o.intervalMs, sent: 0, received: 0, lost: 0, duplicates: 0, latP50: null, latP95: null, latP99: null, jitter: null, maxGap: null, goodputBps: null,
  }));
  const batches = [...sends].filter((b) => b.end > b.first).sort((a, b) => a.first - b.first);
  for (const b of batches) { const i = idx(b.t); if (rows[i]) rows[i]!.sent += b.end - b.first; }
  const intervalOfSeq = (seq: number): number | undefined => {
    let lo = 0, hi = batches.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const b = batches[mid]!;
      if (seq < b.first) hi = mid - 1; else if (seq >= b.end) lo = mid + 1; else return idx(b.t);
    }
    return undefined;
  };
  const seen = new Set<number>();
  const lat: number[][] = rows.map(() => []);
  const byRecv = [...arrivals].sort((a, b) => a.recv - b.recv);
  const jit = rfc3550Jitter(byRecv);
  byRecv.forEach((a, k) => {
    if (seen.has(a.seq)) { const r = rows[idx(a.recv)]; if (r) r.duplicates++; return; }
    seen.add(a.seq);
    const i = intervalOfSeq(a.seq);
    if (i !== undefined && rows[i]) { rows[i]!.received++; lat[i]!.push(a.recv - a.sent); }
    const r = rows[idx(a.recv)];
    if (r) {
      r.jitter = jit[k]!;
      if (k > 0) { const g = a.recv - byRecv[k - 1]!.recv; if (r.maxGap === null || g > r.maxGap) r.maxGap = g; }
    }
  });
  rows.forEach((r, i) => {
    r.lost = Math.max(0, r.sent - r.received);
    const l = lat[i]!.sort((a, b) => a - b);
    if (l.length) { r.latP50 = percentileSorted(l, 50); r.latP95 = percentileSorted(l, 95); r.latP99 = percentileSorted(l, 99); }
  });
  return rows;
}

/** Per-interval rows of a TCP flow from the receiver's byte batches: goodput in bit/s; counts stay 0. */
export function byteIntervals(batches: readonly ByteBatch[], o: { t0: number; intervalMs: number; count: number }): IntervalRow[] {
  const rows: IntervalRow[] = Array.from({ length: o.count }, (_, i) => ({
    interval: i, tMs: i * o.intervalMs, sent: 0, received: 0, lost: 0, duplicates: 0, latP50: null, latP95: null, latP99: null, jitter: null, maxGap: null, goodputBps: 0,
  }));
  let last: number | undefined;
  for (const b of [...batches].sort((x, y) => x.t - y.t)) {
    const r = rows[Math.floor((b.t - o.t0) / o.intervalMs)];
    if (r) r.goodputBps! += (b.bytes * 8 * 1000) / o.intervalMs;
    // A silence for TCP: the time between two batches that carried data.
    if (b.bytes > 0) {
      if (last !== undefined && r) { const g = b.t - last; if (r.maxGap === null || g > r.maxGap) r.maxGap = g; }
      last = b.t;
    }
  }
  return rows;
}

/** One silence of a flow: no arrival between `start` and `end` (wall ms); `lost` sequences fell in it. */
export interface Gap { start: number; end: number; gapMs: number; lost: number }

/**
 * Silences longer than `minMs` between consecutive arrivals (receive order), with the sequences missing
 * between the two packets around each. Example: arrivals at 0, 20, 400, 420 ms with minMs 100 → one
 * gap of 380 ms.
 */
export function gaps(arrivals: readonly Arrival[], minMs: number): Gap[] {
  const byRecv = [...arrivals].sort((a, b) => a.recv - b.recv);
  const out: Gap[] = [];
  for (let i = 1; i < byRecv.length; i++) {
    const a = byRecv[i - 1]!, b = byRecv[i]!;
    if (b.recv - a.recv > minMs) out.push({ start: a.recv, end: b.recv, gapMs: b.recv - a.recv, lost: Math.max(0, b.seq - a.seq - 1) });
  }
  return out;
}

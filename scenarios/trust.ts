/**
 * Judging whether a run's twin could be trusted — pure functions over what the runner measured, so the
 * rules are tested without a twin (test/scenarios/trust.test.ts). Overload signs: the median run queue
 * per CPU, the traffic senders' timer lateness, kernel backlog (softnet) and veth drops, the agents' own
 * event-loop lag and the delay lines' lateness. Both of the last two arrive as cumulative lateness
 * histograms (dataplane/agent/loop-lag.ts, twin/native/delayline.c share one bucket layout); a run's
 * share is the difference of two readings, and its percentiles are read from the buckets (upper bounds,
 * so a judgement errs towards "not trustworthy").
 *
 * Example:
 *   const h = histDelta([{ key: 'edge1/41', hist: [[3, 10]] }, { key: 'edge1/41', hist: [[3, 60], [40, 1]] }]);
 *   histPercentileMs(h, 99)   // → 0.004 (50 of 51 ticks under 4 µs; the 99th is in bucket 3)
 *   overloadReasons({ runQueuePerCpu: 1, …, agentLoopLagP99Ms: { edge1: 80 } }, trust)
 *     // → ['edge1: agent event loop p99 80 ms late > 50 ms']
 */
import { LATE_BUCKETS } from '../dataplane/index.ts';
import type { TrustSpec } from './schema.ts';

/** A sparse lateness histogram: [bucket, count] pairs (the agents' `eventLoop.hist`, the delay lines' `late_hist`). */
export type SparseHist = readonly (readonly [number, number])[];

/** Upper bound in µs of lateness bucket `b` (exact µs below 8, then four linear sub-buckets per power of two). Example: `lateBucketUpperUs(9)` → 12. */
export function lateBucketUpperUs(b: number): number {
  if (b < 8) return b + 1;
  const msb = 3 + Math.floor((b - 8) / 4), sub = (b - 8) % 4;
  return 2 ** msb + (sub + 1) * 2 ** (msb - 2);
}

/**
 * What a run added to cumulative histograms: per `key` (e.g. node and pid) its last reading minus its
 * first, summed over keys — a restarted agent has a new pid, so its series counts from its own first
 * reading. Returns dense counts (LATE_BUCKETS long).
 */
export function histDelta(readings: readonly { key: string; hist: SparseHist }[]): number[] {
  const out = new Array<number>(LATE_BUCKETS).fill(0);
  const first = new Map<string, SparseHist>(), last = new Map<string, SparseHist>();
  for (const r of readings) { if (!first.has(r.key)) first.set(r.key, r.hist); last.set(r.key, r.hist); }
  for (const [k, h] of last) {
    for (const [b, c] of h) out[Math.min(b, LATE_BUCKETS - 1)]! += c;
    for (const [b, c] of first.get(k)!) out[Math.min(b, LATE_BUCKETS - 1)]! -= c;
  }
  return out.map((c) => Math.max(0, c));
}

/** Total count of dense histogram counts. */
export const histTotal = (counts: readonly number[]): number => counts.reduce((a, b) => a + b, 0);

/**
 * The `p`th percentile (0 < p ≤ 100) of dense counts as the upper bound of its bucket, in ms; null when
 * the histogram is empty. `p` = 100 gives the upper bound of the highest non-empty bucket.
 */
export function histPercentileMs(counts: readonly number[], p: number): number | null {
  const n = histTotal(counts);
  if (!n) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * n));
  let seen = 0;
  for (let b = 0; b < counts.length; b++) {
    seen += counts[b]!;
    if (seen >= rank) return lateBucketUpperUs(b) / 1000;
  }
  return lateBucketUpperUs(counts.length - 1) / 1000;
}

/** Everything the overload judgement looks at (one run). */
export interface OverloadMeasures {
  /** Median of procs_running per CPU over the run. */
  runQueuePerCpu: number;
  /** p99 of the traffic senders' timer lateness, ms. */
  senderLateP99Ms: number;
  softnetDrops: number;
  vethTxDrops: number;
  /** Per edge node: p99 of its agent's event-loop lag over the run, ms (null: no ticks seen). */
  agentLoopLagP99Ms: Record<string, number | null>;
  /** Per delay-line direction (named by the endpoint its traffic leaves): p99 lateness of departures, ms, and packets. */
  delayLineLate: Record<string, { p99Ms: number | null; packets: number }>;
  /** Per edge node: raw probe results its agent's ring overwrote before the runner pulled them (null: never pulled). Optional for callers that do not pull probes. */
  probeRowsDropped?: Record<string, number | null>;
}

/** Directions that carried fewer packets than this are not judged (a percentile of a handful is noise). */
export const MIN_JUDGED_PACKETS = 100;

/** Why the run cannot be trusted, one reason per sign beyond its limit in `t`; empty when every sign is within. */
export function overloadReasons(m: OverloadMeasures, t: TrustSpec): string[] {
  const out: string[] = [];
  if (m.runQueuePerCpu > t.maxRunQueuePerCpu) out.push(`median run queue ${m.runQueuePerCpu.toFixed(2)} per CPU > ${t.maxRunQueuePerCpu}`);
  if (m.senderLateP99Ms > t.maxTimerLate) out.push(`traffic senders' timers p99 ${m.senderLateP99Ms.toFixed(1)} ms late > ${t.maxTimerLate} ms`);
  if (m.softnetDrops > t.maxSoftnetDrops) out.push(`${m.softnetDrops} packets dropped for a full backlog (softnet) > ${t.maxSoftnetDrops}`);
  if (m.vethTxDrops > t.maxVethDrops) out.push(`${m.vethTxDrops} tx drops on the lab's interfaces > ${t.maxVethDrops}`);
  for (const [node, p99] of Object.entries(m.agentLoopLagP99Ms).sort()) {
    if (p99 === null) out.push(`${node}: agent event-loop lag not measured (no status during the run)`);
    else if (p99 > t.maxAgentLoopLag) out.push(`${node}: agent event loop p99 ${+p99.toFixed(3)} ms late > ${t.maxAgentLoopLag} ms`);
  }
  for (const [dir, d] of Object.entries(m.delayLineLate).sort()) {
    if (d.packets >= MIN_JUDGED_PACKETS && d.p99Ms !== null && d.p99Ms > t.maxDelayLineLate) {
      out.push(`delay line ${dir} →: departures p99 ${+d.p99Ms.toFixed(3)} ms late > ${t.maxDelayLineLate} ms (${d.packets} packets)`);
    }
  }
  for (const [node, n] of Object.entries(m.probeRowsDropped ?? {}).sort()) {
    if (n !== null && n > t.maxProbeRowsDropped) out.push(`${node}: ${n} probe results dropped before the runner pulled them > ${t.maxProbeRowsDropped} (the probes table is incomplete)`);
  }
  return out;
}

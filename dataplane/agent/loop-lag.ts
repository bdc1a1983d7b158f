/**
 * The agent's own event-loop lag: how late a timer of this process fires. Probes, steering and the
 * WAN-opt idle flush all run on timers, so an agent whose loop lags measures and reacts late; a scenario
 * run on the twin judges this (docs/scenarios.md, Trust) instead of trusting an overloaded result.
 *
 * A timer repeats every `periodMs` (default 20 ms, unref'd); each tick's lateness (time since the previous
 * tick minus the period) goes into a cumulative histogram since start with the layout the twin's delay
 * line uses for its own lateness (twin/native/delayline.c): bucket b counts lateness below b + 1 µs for
 * b < 8, then four linear sub-buckets per power of two; the last bucket is open-ended. Reported sparse,
 * as [bucket, ticks] pairs, so a reader can subtract two readings and take percentiles of any interval.
 *
 * Example:
 *   const lag = new LoopLag(); lag.start();
 *   lag.status()   // → { periodMs: 20, ticks: 153, maxMs: 1.8, hist: [[3, 120], [9, 30], …] }
 *   lag.stop();
 */

/** Number of histogram buckets (the same as the delay line's LATE_BUCKETS). */
export const LATE_BUCKETS = 128;

/** Bucket of a lateness in µs (see the module comment). Example: `lateBucket(5)` → 5, `lateBucket(10)` → 9. */
export function lateBucket(us: number): number {
  const u = Math.max(0, Math.floor(us));
  if (u < 8) return u;
  // The same arithmetic as the delay line's C (highest set bit, then the two bits below it), beyond 32 bits too.
  const msb = u < 2 ** 31 ? 31 - Math.clz32(u) : Math.floor(Math.log2(u));
  const sub = Math.floor(u / 2 ** (msb - 2)) - 4;
  return Math.min(8 + (msb - 3) * 4 + sub, LATE_BUCKETS - 1);
}

/** What GET /status shows under `eventLoop`. */
export interface LoopLagStatus {
  /** The measuring timer's period, ms. */
  periodMs: number;
  /** Ticks measured since start. */
  ticks: number;
  /** The worst lateness since start, ms. */
  maxMs: number;
  /** Non-empty buckets since start: [bucket, ticks]. */
  hist: [number, number][];
}

/** Measures the event-loop lag of the process it runs in; see the module comment. */
export class LoopLag {
  private readonly counts = new Float64Array(LATE_BUCKETS);
  private ticks = 0;
  private maxMs = 0;
  private timer?: NodeJS.Timeout;
  constructor(readonly periodMs = 20) {}

  start(): void {
    if (this.timer) return;
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const late = Math.max(0, now - last - this.periodMs);
      last = now;
      this.counts[lateBucket(late * 1000)]!++;
      this.ticks++;
      if (late > this.maxMs) this.maxMs = late;
    }, this.periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  status(): LoopLagStatus {
    const hist: [number, number][] = [];
    this.counts.forEach((c, b) => { if (c) hist.push([b, c]); });
    return { periodMs: this.periodMs, ticks: this.ticks, maxMs: Math.round(this.maxMs * 1000) / 1000, hist };
  }
}

/**
 * Per-path measurement from active probes and passive data-plane counters: smoothed RTT (RFC 6298
 * srtt/rttvar), interarrival jitter (RFC 3550 §6.4.1 estimator applied to successive RTTs), loss over the
 * last N probes and over the last T ms (probes and passive counters merged), RTT percentiles over a window,
 * consecutive misses/replies, and reorder/duplicate/late detection on sequence numbers.
 *
 * Pure and clock-free: every call carries its own time `at` (ms), so a replay runs hours in milliseconds.
 */

/** Window sizes. All optional; defaults in {@link DEFAULT_STATS}. */
export interface StatsOptions {
  /** Loss over the last N resolved probes. Default 100. */
  countWindow: number;
  /** Loss over the last T ms (probes + passive). Default 10_000 ms. */
  timeWindowMs: number;
  /** RTT samples kept for percentiles and windowed jitter. Default 256. */
  percentileWindow: number;
  /** A short loss window (probes + passive) for fast brownout detection; ≤ timeWindowMs. Default 1000 ms. */
  fastWindowMs: number;
}

export const DEFAULT_STATS: StatsOptions = { countWindow: 100, timeWindowMs: 10_000, percentileWindow: 256, fastWindowMs: 1000 };

/**
 * Lower end of the Wilson score interval for a loss fraction (z = 1.96: 95 % two-sided), so a short window
 * calls a loss bound broken only when the evidence says so: 1 loss in 70 samples (1.4 %) gives 0.25 %, 3 in
 * 70 give 1.5 %. Example: `wilsonLower(3, 70)` ≈ 0.0147.
 */
export function wilsonLower(bad: number, n: number, z = 1.96): number {
  if (n <= 0) return 0;
  const p = bad / n, z2 = z * z;
  return Math.max(0, (p + z2 / (2 * n) - z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n));
}

/**
 * Counters from the data plane for one path since the previous sample (deltas, not totals): packets
 * received, packets found missing from the overlay's per-path sequence numbers, packets that arrived out
 * of order. Example: `{ at: 1_000, received: 980, lost: 2, reordered: 1 }`.
 */
export interface PassiveSample {
  at: number;
  received: number;
  lost: number;
  reordered: number;
}

/** A point-in-time view of one path's measurements. Times in ms, loss as a fraction 0..1. */
export interface PathMetrics {
  /** Smoothed RTT, undefined before the first reply. */
  srtt?: number;
  rttvar?: number;
  /** One-way latency estimate: srtt / 2 (clocks of the two edges are not assumed synchronised). */
  latency?: number;
  /** RFC 3550 jitter over successive RTTs (exponential, gain 1/16: reacts within ~16 probes). */
  jitter: number;
  /**
   * Windowed jitter over the last `percentileWindow` RTT pairs: mean, p50 and p95 of |RTT(i) − RTT(i−1)|.
   * The mean is what the RFC 3550 filter estimates, without its memory of old spikes beyond the window.
   */
  jitterMean?: number;
  jitterP50?: number;
  jitterP95?: number;
  /** Loss over the last `countWindow` probes (probes only). */
  lossCount: number;
  /** Loss over the last `timeWindowMs` (probes + passive counters). */
  lossTime: number;
  /** Loss over the last `fastWindowMs` and the samples behind it. */
  lossFast: number;
  lossFastSamples: number;
  /** Samples behind lossTime (probes resolved + passive packets). */
  lossSamples: number;
  p50?: number;
  p95?: number;
  p99?: number;
  consecutiveMisses: number;
  consecutiveReplies: number;
  sent: number;
  received: number;
  lost: number;
  late: number;
  reordered: number;
  duplicates: number;
  passiveReceived: number;
  passiveLost: number;
  passiveReordered: number;
  lastReplyAt?: number;
  lastLossAt?: number;
  lastPassiveTrafficAt?: number;
}

/** Serial-number comparison of 32-bit sequence numbers (RFC 1982): negative when a is before b. */
export const seqDiff = (a: number, b: number) => ((a - b) | 0);

const REMEMBERED_SEQS = 4096;

/** Measurements of one path. Example: `s.sent(1, 0); s.reply(1, 42, 42); s.metrics(42).srtt === 42`. */
export class PathStats {
  readonly opts: StatsOptions;
  private srtt?: number;
  private rttvar?: number;
  private jitter = 0;
  private lastRtt?: number;
  private c = { sent: 0, received: 0, lost: 0, late: 0, reordered: 0, duplicates: 0, passiveReceived: 0, passiveLost: 0, passiveReordered: 0 };
  private consecutiveMisses = 0;
  private consecutiveReplies = 0;
  private highestReplied?: number;
  /** seq → outcome for recent seqs, to tell duplicates and late replies apart. */
  private resolved = new Map<number, 'replied' | 'lost'>();
  /** Where a lost seq was recorded (ring position, absolute time-window index), so a late reply can undo it. */
  private lostAt = new Map<number, { ring: number; t: number }>();
  private ringSeq: Int32Array;
  /** Entries dropped from the front of the time-window arrays by compaction (absolute index base). */
  private tBase = 0;
  private ring: Uint8Array;
  private ringPos = 0;
  private ringFill = 0;
  private ringLost = 0;
  private rtts: Float64Array;
  private rttPos = 0;
  private rttFill = 0;
  private dRing: Float64Array;
  private dPos = 0;
  private dFill = 0;
  private dSum = 0;
  // Time window as a FIFO of (at, good, bad) in parallel arrays with a moving head.
  private tAt: number[] = [];
  private tGood: number[] = [];
  private tBad: number[] = [];
  private tHead = 0;
  private goodSum = 0;
  private badSum = 0;
  private fHead = 0;
  private fGood = 0;
  private fBad = 0;
  private lastReplyAt?: number;
  private lastLossAt?: number;
  private lastPassiveTrafficAt?: number;

  constructor(opts: Partial<StatsOptions> = {}) {
    this.opts = { ...DEFAULT_STATS, ...opts };
    this.ring = new Uint8Array(this.opts.countWindow);
    this.rtts = new Float64Array(this.opts.percentileWindow);
    this.dRing = new Float64Array(this.opts.percentileWindow);
    this.ringSeq = new Int32Array(this.opts.countWindow);
  }

  /** A probe left. */
  sent(_seq: number, _at: number): void {
    this.c.sent++;
  }

  /**
   * A reply for `seq` with round-trip time `rtt` (ms, reflector hold time already subtracted).
   * Returns how it was classified: a late reply (seq already counted lost) and a duplicate change nothing
   * but their counters.
   */
  reply(seq: number, rtt: number, at: number): 'ok' | 'reordered' | 'late' | 'duplicate' {
    const prev = this.resolved.get(seq);
    if (prev === 'replied') { this.c.duplicates++; return 'duplicate'; }
    if (prev === 'lost') { this.c.late++; this.unlose(seq); return 'late'; }
    this.remember(seq, 'replied');
    this.c.received++;
    this.consecutiveMisses = 0;
    this.consecutiveReplies++;
    this.lastReplyAt = at;
    let kind: 'ok' | 'reordered' = 'ok';
    if (this.highestReplied !== undefined && seqDiff(seq, this.highestReplied) < 0) { this.c.reordered++; kind = 'reordered'; }
    else this.highestReplied = seq;
    this.rttSample(rtt);
    this.pushOutcome(false);
    this.pushTime(at, 1, 0);
    return kind;
  }

  /**
   * A reply that came after its probe timed out (`reply` returned 'late' and already took the probe out of
   * the loss figures: the RFC 2680 loss threshold is "as long as the seq is remembered", 4096 probes, while
   * the tight timeout only drives liveness). It proves the path alive — the miss streak resets — and its
   * RTT feeds srtt/rttvar/jitter/percentiles, so the timeout grows to fit. It counts as a reply for
   * liveness (consecutive replies), so a path slower than the timeout ceiling still comes up.
   */
  late(rtt: number, at: number): void {
    this.consecutiveMisses = 0;
    this.consecutiveReplies++;
    this.lastReplyAt = at;
    this.rttSample(rtt);
  }

  private rttSample(rtt: number) {
    if (this.srtt === undefined || this.rttvar === undefined) { this.srtt = rtt; this.rttvar = rtt / 2; }
    else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rtt);
      this.srtt = 0.875 * this.srtt + 0.125 * rtt;
    }
    if (this.lastRtt !== undefined) {
      const d = Math.abs(rtt - this.lastRtt);
      this.jitter += (d - this.jitter) / 16;
      if (this.dFill === this.dRing.length) this.dSum -= this.dRing[this.dPos]!;
      this.dSum += d;
      this.dRing[this.dPos] = d;
      this.dPos = (this.dPos + 1) % this.dRing.length;
      this.dFill = Math.min(this.dFill + 1, this.dRing.length);
    }
    this.lastRtt = rtt;
    this.rtts[this.rttPos] = rtt;
    this.rttPos = (this.rttPos + 1) % this.rtts.length;
    this.rttFill = Math.min(this.rttFill + 1, this.rtts.length);
  }

  /** No reply for `seq` within its timeout. Returns false when seq was already resolved. */
  loss(seq: number, at: number): boolean {
    if (this.resolved.has(seq)) return false;
    this.remember(seq, 'lost');
    this.c.lost++;
    this.consecutiveMisses++;
    this.consecutiveReplies = 0;
    this.lastLossAt = at;
    this.lostAt.set(seq, { ring: this.ringPos, t: this.tBase + this.tAt.length });
    if (this.lostAt.size > REMEMBERED_SEQS) this.lostAt.delete(this.lostAt.keys().next().value!);
    this.ringSeq[this.ringPos] = seq | 0;
    this.pushOutcome(true);
    this.pushTime(at, 0, 1);
    return true;
  }

  /** A late reply: the probe was slow, not lost — turn its loss into a delivery where it is still counted. */
  private unlose(seq: number) {
    const w = this.lostAt.get(seq);
    if (!w) return;
    this.lostAt.delete(seq);
    this.c.lost--;
    if (this.ring[w.ring] === 1 && this.ringSeq[w.ring] === (seq | 0)) { this.ring[w.ring] = 0; this.ringLost--; }
    const i = w.t - this.tBase;
    if (i >= this.tHead && i < this.tAt.length && this.tBad[i]! > 0) {
      this.tBad[i]!--; this.tGood[i]!++;
      this.badSum--; this.goodSum++;
      if (i >= this.fHead) { this.fBad--; this.fGood++; }
    }
  }

  /** Merge passive counters from the data plane (see {@link PassiveSample}). */
  passive(s: PassiveSample): void {
    this.c.passiveReceived += s.received;
    this.c.passiveLost += s.lost;
    this.c.passiveReordered += s.reordered;
    if (s.received > 0) this.lastPassiveTrafficAt = s.at;
    if (s.lost > 0) this.lastLossAt = s.at;
    if (s.received + s.lost > 0) this.pushTime(s.at, s.received, s.lost);
  }

  /** The current measurements; `at` prunes the time window. Percentiles cost a sort of the RTT window. */
  metrics(at: number, percentiles = true): PathMetrics {
    this.prune(at);
    const total = this.goodSum + this.badSum;
    const m: PathMetrics = {
      jitter: this.jitter,
      lossCount: this.ringFill ? this.ringLost / this.ringFill : 0,
      lossTime: total ? this.badSum / total : 0,
      lossSamples: total,
      lossFast: this.fGood + this.fBad ? this.fBad / (this.fGood + this.fBad) : 0,
      lossFastSamples: this.fGood + this.fBad,
      consecutiveMisses: this.consecutiveMisses,
      consecutiveReplies: this.consecutiveReplies,
      ...this.c,
    };
    if (this.srtt !== undefined) { m.srtt = this.srtt; m.rttvar = this.rttvar!; m.latency = this.srtt / 2; }
    const quantiles = (ring: Float64Array, fill: number) => {
      const xs = Array.from(ring.subarray(0, fill)).sort((a, b) => a - b);
      return (p: number) => xs[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)]!;
    };
    if (percentiles && this.rttFill) {
      const q = quantiles(this.rtts, this.rttFill);
      m.p50 = q(0.5); m.p95 = q(0.95); m.p99 = q(0.99);
    }
    if (percentiles && this.dFill) {
      const q = quantiles(this.dRing, this.dFill);
      let sum = 0;
      for (let i = 0; i < this.dFill; i++) sum += this.dRing[i]!;
      m.jitterMean = sum / this.dFill; m.jitterP50 = q(0.5); m.jitterP95 = q(0.95);
    }
    if (this.lastReplyAt !== undefined) m.lastReplyAt = this.lastReplyAt;
    if (this.lastLossAt !== undefined) m.lastLossAt = this.lastLossAt;
    if (this.lastPassiveTrafficAt !== undefined) m.lastPassiveTrafficAt = this.lastPassiveTrafficAt;
    return m;
  }

  /** Cheap accessors for the hot path of the state machine (no allocation). */
  get srttMs(): number | undefined { return this.srtt; }
  get rttvarMs(): number { return this.rttvar ?? 0; }
  get misses(): number { return this.consecutiveMisses; }
  get replies(): number { return this.consecutiveReplies; }
  get jitterMs(): number { return this.jitter; }
  /** Mean |ΔRTT| over the jitter window (0 before two replies). */
  get jitterWindowMs(): number { return this.dFill ? Math.max(0, this.dSum / this.dFill) : 0; }
  /** Loss fraction and sample count over the time window ending at `at`. */
  timeLoss(at: number): { loss: number; samples: number } {
    this.prune(at);
    const total = this.goodSum + this.badSum;
    return { loss: total ? this.badSum / total : 0, samples: total };
  }

  private remember(seq: number, outcome: 'replied' | 'lost') {
    this.resolved.set(seq, outcome);
    // Map iteration is insertion order, so the oldest entries go first.
    if (this.resolved.size > REMEMBERED_SEQS) {
      const oldest = this.resolved.keys().next().value!;
      this.resolved.delete(oldest);
    }
  }

  private pushOutcome(lost: boolean) {
    if (this.ringFill === this.ring.length) this.ringLost -= this.ring[this.ringPos]!;
    else this.ringFill++;
    this.ring[this.ringPos] = lost ? 1 : 0;
    if (lost) this.ringLost++;
    this.ringPos = (this.ringPos + 1) % this.ring.length;
  }

  private pushTime(at: number, good: number, bad: number) {
    this.tAt.push(at); this.tGood.push(good); this.tBad.push(bad);
    this.goodSum += good; this.badSum += bad;
    this.fGood += good; this.fBad += bad;
  }

  /** Loss over the fast window ending at `at` (see {@link StatsOptions.fastWindowMs}). */
  fastLoss(at: number): { bad: number; samples: number } {
    this.prune(at);
    return { bad: this.fBad, samples: this.fGood + this.fBad };
  }

  private prune(at: number) {
    const from = at - this.opts.timeWindowMs;
    while (this.tHead < this.tAt.length && this.tAt[this.tHead]! <= from) {
      this.goodSum -= this.tGood[this.tHead]!;
      this.badSum -= this.tBad[this.tHead]!;
      this.tHead++;
    }
    if (this.fHead < this.tHead) {
      // The fast window cannot reach further back than the long one: drop what the long one dropped.
      for (let i = this.fHead; i < this.tHead; i++) { this.fGood -= this.tGood[i]!; this.fBad -= this.tBad[i]!; }
      this.fHead = this.tHead;
    }
    const ffrom = at - Math.min(this.opts.fastWindowMs, this.opts.timeWindowMs);
    while (this.fHead < this.tAt.length && this.tAt[this.fHead]! <= ffrom) {
      this.fGood -= this.tGood[this.fHead]!;
      this.fBad -= this.tBad[this.fHead]!;
      this.fHead++;
    }
    // Compact now and then so the arrays do not grow for ever.
    if (this.tHead > 4096 && this.tHead * 2 > this.tAt.length) {
      this.tAt = this.tAt.slice(this.tHead); this.tGood = this.tGood.slice(this.tHead); this.tBad = this.tBad.slice(this.tHead);
      this.fHead -= this.tHead;
      this.tBase += this.tHead;
      this.tHead = 0;
    }
  }
}

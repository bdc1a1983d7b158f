/**
 * The state of one path — up, degraded (violates at least one SLA class) or down — from its probe
 * outcomes, with the hysteresis that keeps a noisy path from flapping:
 *
 * - probe timeout adapts to the measured RTT like TCP's RTO (RFC 6298): srtt + max(timeoutK × rttvar,
 *   srtt / 4), clamped to [timeoutFloorMs, timeoutCeilingMs]; before the first reply, initialTimeoutMs. A
 *   2 ms twin path times out at the 50 ms floor, a 600 ms satellite path after ≥ 750 ms. Deadlines of
 *   outstanding probes follow the current estimate, so a late reply that raises srtt extends them too;
 * - down after `downAfter` consecutive misses and, when `minOutageMs` > 0, only once the first unanswered
 *   probe of the streak left at least minOutageMs ago (so 10 ms probes do not turn a 50 ms burst into an
 *   outage); back up after `upAfter` consecutive replies AND a failback hold-down of `holdDownMs` without a
 *   single miss (the hold-down restarts on any dip);
 * - a reply arriving after its timeout stays a loss (RFC 2680's threshold) but proves the path alive: it
 *   resets the miss streak and feeds the RTT estimate. When it answers one of the probes whose misses
 *   declared the path down, the RTT grew rather than the path failed (a +150 ms delay step looks like a cut
 *   for the first RTT): the path comes back at once and is judged on its SLA classes (degraded), without
 *   the hold-down;
 * - per SLA class: violating as soon as a metric exceeds its bound, compliant again only after every metric
 *   stayed at or below bound × (1 − slaMargin) for `holdDownMs` (restarting whenever one goes above);
 * - damping (RFC 2439-like): each flap adds a penalty that halves every `halfLifeMs`; above `suppress` the
 *   path may go down/degrade but not recover until the penalty decays below `reuse`.
 *
 * Every change is an event {at, path, kind, from, to, cause}. Time is always passed in (`at`, ms).
 */
import { PathStats, seqDiff, wilsonLower, type PathMetrics, type PassiveSample, type StatsOptions, DEFAULT_STATS } from './stats.ts';

export type PathStateName = 'up' | 'degraded' | 'down';

/** The SLA bounds a path is judged against (structurally a BundleSlaClass). latencyMs is one-way. */
export interface SlaBounds {
  name: string;
  latencyMs: number;
  jitterMs: number;
  loss: number;
}

/** RFC 2439-like damping. Penalties are unitless; defaults follow the RFC's figures. */
export interface DampingConfig {
  enabled: boolean;
  /** Added when the path goes down. Default 1000. */
  flapPenalty: number;
  /** Added when the path starts violating an SLA class while alive. Default 500. */
  degradePenalty: number;
  /** Suppress recoveries above this. Default 2000. */
  suppress: number;
  /** Allow recoveries again below this. Default 750. */
  reuse: number;
  /** Penalty half-life, ms. Default 60_000. */
  halfLifeMs: number;
  /** Ceiling, so a long flapping spell cannot suppress for ever. Default 6000. */
  maxPenalty: number;
}

/** Monitor parameters. Defaults in {@link DEFAULT_MONITOR}; all times in ms. */
export interface MonitorConfig {
  /** Probe interval while busy or unhealthy. Default 100 (down to 10). */
  intervalMs: number;
  /** Interval while up, idle (no passive traffic) and loss-free for idleAfterMs. Default 1000. */
  idleIntervalMs: number;
  /** Use idleIntervalMs at all. Default true. */
  adaptive: boolean;
  /** Quiet period before slowing down. Default 10_000. */
  idleAfterMs: number;
  /** Probe timeout bounds and rttvar multiplier: clamp(srtt + max(k × rttvar, srtt/4), floor, ceiling). Defaults 50, 3000, 4. */
  timeoutFloorMs: number;
  timeoutCeilingMs: number;
  timeoutK: number;
  /** Timeout before any RTT is known. Default 1000. */
  initialTimeoutMs: number;
  /** Consecutive misses to declare down. Default 3. */
  downAfter: number;
  /** And at least this long since the streak's first unanswered probe left. Default 0 (misses alone). */
  minOutageMs: number;
  /** Consecutive replies needed (with the hold-down) to come back. Default 3. */
  upAfter: number;
  /** Failback hold-down for liveness and for each SLA class. Default 5000. */
  holdDownMs: number;
  /** Recovery bound as a fraction below the SLA bound. Default 0.1. */
  slaMargin: number;
  /** Judge the loss bound only with at least this many samples in the time window. Default 20. */
  minLossSamples: number;
  /** Merge passive data-plane counters (the peer's echoed receive report, prober.passive). Default true. */
  usePassive: boolean;
  /**
   * Judge the jitter bound on the windowed mean |ΔRTT| (last `stats.percentileWindow` replies) instead of
   * the RFC 3550 filter, which at fast probe rates swings across a nearby bound. Default false.
   */
  jitterFromWindow: boolean;
  damping: DampingConfig;
  stats: StatsOptions;
}

export const DEFAULT_DAMPING: DampingConfig = {
  enabled: false, flapPenalty: 1000, degradePenalty: 500, suppress: 2000, reuse: 750, halfLifeMs: 60_000, maxPenalty: 6000,
};

export const DEFAULT_MONITOR: MonitorConfig = {
  intervalMs: 100, idleIntervalMs: 1000, adaptive: true, idleAfterMs: 10_000,
  timeoutFloorMs: 50, timeoutCeilingMs: 3000, timeoutK: 4, initialTimeoutMs: 1000,
  downAfter: 3, minOutageMs: 0, upAfter: 3, holdDownMs: 5000, slaMargin: 0.1, minLossSamples: 20, usePassive: true, jitterFromWindow: false,
  damping: DEFAULT_DAMPING, stats: DEFAULT_STATS,
};

/** Deep-merge partial settings over the defaults. */
export function monitorConfig(p: Partial<Omit<MonitorConfig, 'damping' | 'stats'>> & { damping?: Partial<DampingConfig>; stats?: Partial<StatsOptions> } = {}): MonitorConfig {
  return { ...DEFAULT_MONITOR, ...p, damping: { ...DEFAULT_DAMPING, ...p.damping }, stats: { ...DEFAULT_STATS, ...p.stats } };
}

/**
 * One change. kind `state`: from/to are {@link PathStateName}s; kind `sla`: from/to are `compliant` or
 * `violating` and `class` names the SLA class; kind `damping`: `reusable` ↔ `suppressed`.
 */
export interface PathEvent {
  at: number;
  path: number;
  kind: 'state' | 'sla' | 'damping';
  from: string;
  to: string;
  cause: string;
  class?: string;
}

/** What steering needs to know about a path. */
export interface PathView {
  id: number;
  state: PathStateName;
  /** Names of SLA classes the path currently meets (never any when down). */
  compliant: ReadonlySet<string>;
  metrics: { latency?: number; jitter: number; loss: number };
  suppressed: boolean;
}

interface ClassState { violating: boolean; goodSince?: number; fresh: boolean }

/**
 * Monitor of one path. Drive it with `sent`, `reply`, `tick` (expires outstanding probes, decays damping)
 * and `passive`; read `state`, `view()`, `metrics()`; collect events with `drain()`.
 *
 * Example: `const m = new PathMonitor(1, [{name: 'voice', latencyMs: 150, jitterMs: 30, loss: 0.01}]);
 * m.sent(0, 0); m.reply(0, 40, 40); … m.state === 'up'` after upAfter replies.
 */
export class PathMonitor {
  readonly stats: PathStats;
  readonly cfg: MonitorConfig;
  state: PathStateName = 'down';
  private alive = false;
  private everUp = false;
  private aliveCandidateSince?: number;
  private outstanding = new Map<number, number>();
  /** The current miss streak: first unanswered seq and when it was sent. */
  private streak?: { seq: number; sentAt: number };
  /** Set while the path is down by misses: the streak that took it down (a late reply to it revives). */
  private downStreak?: number;
  private classes = new Map<string, ClassState>();
  private penalty = 0;
  private penaltyAt = 0;
  private suppressed = false;
  private events: PathEvent[] = [];
  /**
   * Called once for each probe this monitor counts lost (its timeout expired unanswered), with its sequence
   * number and send time (ms) — the raw-probe log's hook (agent/probe-log.ts); a late reply to it still
   * comes through {@link reply}.
   */
  onLoss?: (seq: number, sentAt: number) => void;

  constructor(readonly id: number, readonly sla: readonly SlaBounds[] = [], cfg: Partial<MonitorConfig> = {}) {
    this.cfg = { ...DEFAULT_MONITOR, ...cfg };
    this.stats = new PathStats(this.cfg.stats);
    for (const s of sla) this.classes.set(s.name, { violating: true, fresh: true });
  }

  /** Probe timeout in ms for a probe sent now. */
  timeoutMs(): number {
    const s = this.stats.srttMs;
    if (s === undefined) return this.cfg.initialTimeoutMs;
    const rto = s + Math.max(this.cfg.timeoutK * this.stats.rttvarMs, s / 4);
    return Math.min(this.cfg.timeoutCeilingMs, Math.max(this.cfg.timeoutFloorMs, rto));
  }

  /** The interval to wait before the next probe (adaptive; the prober also applies the budget). */
  nextIntervalMs(at: number): number {
    if (!this.cfg.adaptive || this.state !== 'up') return this.cfg.intervalMs;
    const m = this.stats;
    const quiet = (t: number | undefined) => t === undefined || at - t >= this.cfg.idleAfterMs;
    const met = m.metrics(at, false);
    return quiet(met.lastLossAt) && quiet(met.lastPassiveTrafficAt) && this.outstanding.size === 0 ? this.cfg.idleIntervalMs : this.cfg.intervalMs;
  }

  /** Record a probe that left at `at`. */
  sent(seq: number, at: number): void {
    this.outstanding.set(seq, at);
    this.stats.sent(seq, at);
  }

  /** A reply arrived at `at` with round-trip `rtt` ms. Returns the stats classification. */
  reply(seq: number, rtt: number, at: number): ReturnType<PathStats['reply']> {
    this.tick(at);
    const kind = this.stats.reply(seq, rtt, at);
    this.outstanding.delete(seq);
    if (kind === 'ok' || kind === 'reordered') { this.streak = undefined; this.evaluate(at, false); }
    else if (kind === 'late') {
      const timeout = this.timeoutMs();
      this.stats.late(rtt, at);
      const revive = !this.alive && this.downStreak !== undefined && seqDiff(seq, this.downStreak) >= 0;
      this.streak = undefined;
      if (revive) {
        this.alive = true;
        this.downStreak = undefined;
        this.aliveCandidateSince = undefined;
        this.evaluate(at, false, `late reply to probe ${seq} (RTT ${Math.round(rtt)} ms > timeout ${Math.round(timeout)} ms): the RTT grew, the path did not fail`);
      } else this.evaluate(at, false);
    }
    return kind;
  }

  /** Drop the probes in flight without judging them (their replies cannot arrive: the prober that sent them stopped). */
  forgetOutstanding(): void {
    this.outstanding.clear();
  }

  /** Expire outstanding probes whose deadline passed, decay damping, apply time-based recoveries. */
  tick(at: number): void {
    let expired = false;
    const timeout = this.timeoutMs();
    for (const [seq, sentAt] of this.outstanding) {
      const deadline = sentAt + timeout;
      if (deadline > at) continue;
      this.outstanding.delete(seq);
      if (this.stats.loss(seq, deadline)) {
        this.onLoss?.(seq, sentAt);
        if (this.stats.misses === 1 || this.streak === undefined) this.streak = { seq, sentAt };
        expired = true;
        this.evaluate(deadline, true);
      }
    }
    if (!expired) this.evaluate(at, false);
  }

  /** Merge passive data-plane counters (see {@link PassiveSample}). */
  passive(s: PassiveSample): void {
    if (!this.cfg.usePassive) return;
    this.stats.passive(s);
    this.evaluate(s.at, s.lost > 0 && s.received === 0);
  }

  /** Earliest time something is due (an outstanding deadline), for the runtime's timer. */
  nextDeadline(): number | undefined {
    let d: number | undefined;
    const timeout = this.timeoutMs();
    for (const sentAt of this.outstanding.values()) if (d === undefined || sentAt + timeout < d) d = sentAt + timeout;
    // A streak long enough in misses but not yet in time is due when the minimum outage has passed.
    if (this.alive && this.streak && this.stats.misses >= this.cfg.downAfter) {
      const o = this.streak.sentAt + this.cfg.minOutageMs;
      if (d === undefined || o < d) d = o;
    }
    return d;
  }

  /** The current damping penalty at `at`. */
  penaltyNow(at: number): number {
    return this.penalty * Math.pow(2, -(at - this.penaltyAt) / this.cfg.damping.halfLifeMs);
  }

  metrics(at: number): PathMetrics {
    return this.stats.metrics(at);
  }

  view(at: number): PathView {
    const tl = this.stats.timeLoss(at);
    const compliant = new Set<string>();
    if (this.state !== 'down') for (const [n, c] of this.classes) if (!c.violating) compliant.add(n);
    const s = this.stats.srttMs;
    return {
      id: this.id, state: this.state, compliant, suppressed: this.suppressed,
      metrics: { ...(s !== undefined && { latency: s / 2 }), jitter: this.stats.jitterMs, loss: tl.loss },
    };
  }

  /** Events since the last drain, oldest first. */
  drain(): PathEvent[] {
    const e = this.events;
    this.events = [];
    return e;
  }

  private emit(e: Omit<PathEvent, 'path'>) {
    this.events.push({ ...e, path: this.id });
  }

  private addPenalty(at: number, p: number) {
    const d = this.cfg.damping;
    if (!d.enabled) return;
    this.penalty = Math.min(d.maxPenalty, this.penaltyNow(at) + p);
    this.penaltyAt = at;
    if (!this.suppressed && this.penalty > d.suppress) {
      this.suppressed = true;
      this.emit({ at, kind: 'damping', from: 'reusable', to: 'suppressed', cause: `penalty ${Math.round(this.penalty)} above ${d.suppress}` });
    }
  }

  private evaluate(at: number, missed: boolean, revived?: string): void {
    const cfg = this.cfg;
    if (this.suppressed && this.penaltyNow(at) < cfg.damping.reuse) {
      this.suppressed = false;
      this.emit({ at, kind: 'damping', from: 'suppressed', to: 'reusable', cause: `penalty decayed below ${cfg.damping.reuse}` });
    }
    const misses = this.stats.misses;
    let cause = revived ?? '';
    if (missed) this.aliveCandidateSince = undefined;
    const outage = this.streak ? at - this.streak.sentAt : 0;
    if (this.alive && misses >= cfg.downAfter && outage >= cfg.minOutageMs) {
      this.alive = false;
      this.downStreak = this.streak?.seq;
      cause = `${misses} consecutive probes unanswered (timeout ${Math.round(this.timeoutMs())} ms`
        + (cfg.minOutageMs > 0 ? `, outage ${Math.round(outage)} ms ≥ ${cfg.minOutageMs} ms)` : ')');
      this.addPenalty(at, cfg.damping.flapPenalty);
    } else if (!this.alive && this.stats.replies >= cfg.upAfter) {
      this.aliveCandidateSince ??= at;
      const held = !this.everUp || at - this.aliveCandidateSince >= cfg.holdDownMs;
      if (held && !this.suppressed) {
        this.alive = true;
        this.downStreak = undefined;
        cause = this.everUp && at - this.aliveCandidateSince >= cfg.holdDownMs
          ? `${this.stats.replies} replies and ${cfg.holdDownMs} ms hold-down without a miss` : `${this.stats.replies} consecutive replies`;
        this.everUp = true;
      }
    }
    if (!this.alive) {
      for (const [name, c] of this.classes) {
        if (!c.violating) {
          c.violating = true;
          this.emit({ at, kind: 'sla', class: name, from: 'compliant', to: 'violating', cause: 'path down' });
        }
        c.goodSince = undefined;
      }
    } else {
      this.evaluateClasses(at);
    }
    const next: PathStateName = !this.alive ? 'down' : [...this.classes.values()].some((c) => c.violating) ? 'degraded' : 'up';
    if (next !== this.state) {
      if (!cause) cause = next === 'degraded' ? 'violates ' + [...this.classes].filter(([, c]) => c.violating).map(([n]) => n).join(', ') : 'meets every SLA class';
      this.emit({ at, kind: 'state', from: this.state, to: next, cause });
      this.state = next;
    }
  }

  private evaluateClasses(at: number) {
    const srtt = this.stats.srttMs;
    if (srtt === undefined) return;
    const latency = srtt / 2;
    const jitter = this.cfg.jitterFromWindow ? this.stats.jitterWindowMs : this.stats.jitterMs;
    const tl = this.stats.timeLoss(at);
    const judgeLoss = tl.samples >= this.cfg.minLossSamples;
    // The fast window breaks a loss bound only when the evidence is significant (Wilson lower bound),
    // so a busy path (passive data) is judged within about a second without flapping on single losses.
    const fl = this.stats.fastLoss(at);
    const fastLow = fl.samples >= this.cfg.minLossSamples ? wilsonLower(fl.bad, fl.samples) : 0;
    let newlyViolating = false;
    for (const b of this.sla) {
      const c = this.classes.get(b.name)!;
      const exceeds = (k: number) => latency > b.latencyMs * k || jitter > b.jitterMs * k || (judgeLoss && tl.loss > b.loss * k) || fastLow > b.loss * k;
      // Strings are built only when an event is emitted: this runs for every probe reply.
      const over = (margin: number) => {
        const k = 1 - margin;
        if (!exceeds(k)) return [];
        const why: string[] = [];
        if (latency > b.latencyMs * k) why.push(`latency ${latency.toFixed(1)} ms > ${(b.latencyMs * k).toFixed(1)}`);
        if (jitter > b.jitterMs * k) why.push(`jitter ${jitter.toFixed(1)} ms > ${(b.jitterMs * k).toFixed(1)}`);
        if (judgeLoss && tl.loss > b.loss * k) why.push(`loss ${(tl.loss * 100).toFixed(2)}% > ${(b.loss * k * 100).toFixed(2)}%`);
        if (fastLow > b.loss * k) why.push(`loss ${fl.bad} of ${fl.samples} in ${this.stats.opts.fastWindowMs} ms (≥ ${(fastLow * 100).toFixed(2)}% at 95 %) > ${(b.loss * k * 100).toFixed(2)}%`);
        return why;
      };
      if (c.fresh) {
        // A path's first measurement needs no hold-down: there is nothing to fail back from.
        c.fresh = false;
        const why = over(0);
        if (!why.length) {
          c.violating = false;
          this.emit({ at, kind: 'sla', class: b.name, from: 'violating', to: 'compliant', cause: 'first measurement within every bound' });
        }
        continue;
      }
      if (!c.violating) {
        const why = over(0);
        if (why.length) {
          c.violating = true;
          c.goodSince = undefined;
          newlyViolating = true;
          this.emit({ at, kind: 'sla', class: b.name, from: 'compliant', to: 'violating', cause: why.join(', ') });
        }
      } else {
        if (exceeds(1 - this.cfg.slaMargin)) { c.goodSince = undefined; continue; }
        c.goodSince ??= at;
        if (at - c.goodSince >= this.cfg.holdDownMs && !this.suppressed) {
          c.violating = false;
          this.emit({ at, kind: 'sla', class: b.name, from: 'violating', to: 'compliant', cause: `within ${Math.round((1 - this.cfg.slaMargin) * 100)}% of every bound for ${this.cfg.holdDownMs} ms` });
        }
      }
    }
    if (newlyViolating) this.addPenalty(at, this.cfg.damping.degradePenalty);
  }
}

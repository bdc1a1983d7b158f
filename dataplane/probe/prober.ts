/**
 * The probe runtime: for every bundle path with `probe: true`, sends a request from the path's local
 * address to the remote edge's responder, matches replies, and feeds a {@link PathMonitor}. Intervals are
 * adaptive (the monitor's idle interval while a path is up, quiet and loss-free; the fast one otherwise)
 * and never faster than the transport's probe budget allows. Paths that are down keep being probed so they
 * can recover. Clock, timers and sockets are injected; the defaults are the host's and node:dgram.
 */
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import type { BundlePath } from '../bundle/schema.ts';
import { decodeProbe, encodeProbe, PROBE_REPORT_LENGTH, PROBE_PORT, type RxReport } from './codec.ts';
import { hostClock, hostTimers, type Clock, type Timers } from './clock.ts';
import { PathMonitor, monitorConfig, type MonitorConfig, type PathEvent, type PathView, type SlaBounds, type DampingConfig } from './path-state.ts';
import { seqDiff, type PassiveSample, type StatsOptions } from './stats.ts';

/** A bound UDP socket as the prober needs it. */
export interface ProbeSocket {
  send(buf: Buffer, port: number, address: string): void;
  close(): Promise<void>;
}
/** Opens a socket bound to `localAddress` (ephemeral port) delivering datagrams to `onMessage`. */
export type OpenSocket = (localAddress: string, onMessage: (buf: Buffer, from: { address: string; port: number }) => void) => Promise<ProbeSocket>;

/** node:dgram sockets. */
export const dgramSockets: OpenSocket = async (localAddress, onMessage) => {
  const s = createSocket({ type: isIPv6(localAddress) ? 'udp6' : 'udp4' });
  s.on('message', (buf, r) => onMessage(buf, { address: r.address, port: r.port }));
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, localAddress, () => { s.off('error', reject); resolve(); });
  });
  // Send errors (no route while a link is cut) are losses, which the timeouts already count.
  s.on('error', () => {});
  return {
    send: (buf, port, address) => s.send(buf, port, address, () => {}),
    close: () => new Promise((r) => s.close(() => r())),
  };
};

/** Bits one probe occupies on the wire (payload + UDP + IP header), for the budget. */
export const probeBits = (ipv6: boolean) => (PROBE_REPORT_LENGTH + 8 + (ipv6 ? 40 : 20)) * 8;

/**
 * The smallest interval (ms) at which `paths` probed paths may share a budget of `budgetBps` bit/s.
 * Example: 4 IPv4 paths in 64 kbit/s → 4 × 800 bit / 64 000 bit/s = 50 ms.
 */
export function budgetIntervalMs(paths: number, budgetBps: number, ipv6 = false): number {
  if (!(budgetBps > 0) || paths === 0) return 0;
  return (paths * probeBits(ipv6) * 1000) / budgetBps;
}

/** Partial monitor settings (see MonitorConfig), damping and stats partial too. */
export type MonitorSettings = Partial<Omit<MonitorConfig, 'damping' | 'stats'>> & { damping?: Partial<DampingConfig>; stats?: Partial<StatsOptions> };

/** Flags of one probe outcome told to a {@link ProbeRecorder} (bits, OR-ed). */
export const PROBE_LOST = 1, PROBE_LATE = 2, PROBE_REORDERED = 4;

/**
 * Told about every probe outcome as the prober decides it (the agent's raw-probe log, agent/probe-log.ts):
 * a reply (`rttMs` measured, flags 0 or {@link PROBE_REORDERED}), a timeout ({@link PROBE_LOST}; `rttMs`,
 * `fwdMs`, `revMs` NaN) and a reply after that timeout ({@link PROBE_LATE}: a second outcome for the same
 * seq). Duplicates are not told. Positional numbers, so a probe costs no allocation on this path.
 * `sentMs` is the prober's clock when the probe left (ms, µs resolution); `fwdMs` = reflector receive time −
 * send time and `revMs` = receive time − reflector transmit time, each including the offset between the two
 * edges' clocks (only their sum, the RTT, is free of it).
 */
export interface ProbeRecorder {
  record(pathId: number, seq: number, sentMs: number, rttMs: number, fwdMs: number, revMs: number, flags: number): void;
}

/** Prober settings. Monitor settings apply to every path (transportMonitor overrides per transport). */
export interface ProberOptions {
  paths: readonly BundlePath[];
  /** SLA classes each path is judged against. */
  slaClasses?: readonly SlaBounds[];
  monitor?: MonitorSettings;
  /** Per-transport overrides over `monitor`, e.g. `{lte: {intervalMs: 1000}}`. */
  transportMonitor?: Record<string, MonitorSettings>;
  /** Probe budget per local transport, bit/s (probes sent in one direction). Default: {@link DEFAULT_BUDGET_BPS}. */
  budgets?: Record<string, number>;
  /** The remote responder's UDP port. Default 4784. */
  port?: number;
  clock?: Clock;
  timers?: Timers;
  openSocket?: OpenSocket;
  /** Called for every path event as it happens. */
  onEvent?: (e: PathEvent) => void;
  /** Told every probe outcome (see {@link ProbeRecorder}); none by default. */
  recorder?: ProbeRecorder;
  /**
   * The prober of the previous bundle (stopped): a path it probed with the same identity ({@link pathKey}), the
   * same monitor settings and the same SLA classes keeps its state and measurements, so a new bundle that leaves
   * a path alone does not send it back to "unknown" (and steering off it until it is up again).
   */
  previous?: Prober;
  /** A path's identity across bundles. Default: id, peer, transports and the probe's two addresses. */
  pathKey?: (p: BundlePath) => string;
}

/** The default {@link ProberOptions.pathKey}. */
export const defaultPathKey = (p: BundlePath) => [p.id, p.peerNode, p.transport, p.remoteTransport, p.localAddress, p.remoteAddress].join('|');

/** 100 kbit/s per transport: 10 ms probes on one path cost 67 kbit/s. */
export const DEFAULT_BUDGET_BPS = 100_000;

interface Runner {
  path: BundlePath; mon: PathMonitor; seq: number; nextSend: number; lastSent: number; timer?: unknown; sock?: ProbeSocket;
  /** Identity, monitor settings and SLA classes: what must match for a later prober to adopt this runner's state. */
  carryKey: string;
  /** The newest receive report the peer echoed, the base of the next passive delta. */
  report?: { seq: number; r: RxReport };
}

/** Deltas between two cumulative u32 reports; undefined when the peer's counters restarted. */
function reportDelta(a: RxReport, b: RxReport): { received: number; lost: number; reordered: number } | undefined {
  const received = (b.received - a.received) | 0, lost = (b.lost - a.lost) | 0, reordered = (b.reordered - a.reordered) | 0;
  // The peer re-created its receive state (restart, new bundle): take the new report as the base.
  if (received < 0 || reordered < 0 || received > 1e7) return undefined;
  // A straggler arriving after it was counted missing lowers the loss; that credit is kept by `received`.
  return { received, lost: Math.max(0, lost), reordered };
}

/**
 * Example: `const p = new Prober({paths: bundle.paths, slaClasses: bundle.slaClasses}); await p.start();
 * p.views()` → path states for steering; `p.passive(1, sample)` feeds data-plane counters.
 */
export class Prober {
  readonly counters = { sent: 0, replies: 0, ignored: 0 };
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly runners = new Map<number, Runner>();
  private readonly sockets = new Map<string, ProbeSocket>();
  private running = false;

  constructor(readonly opts: ProberOptions) {
    this.clock = opts.clock ?? hostClock;
    this.timers = opts.timers ?? hostTimers;
    const cfgOf = (t: string) => {
      const o = opts.transportMonitor?.[t];
      return monitorConfig(o ? { ...opts.monitor, ...o, damping: { ...opts.monitor?.damping, ...o.damping }, stats: { ...opts.monitor?.stats, ...o.stats } } : opts.monitor);
    };
    const keyOf = opts.pathKey ?? defaultPathKey;
    const sla = JSON.stringify(opts.slaClasses ?? []);
    const old = new Map([...(opts.previous?.runners.values() ?? [])].map((r) => [r.carryKey, r]));
    for (const p of opts.paths) {
      if (!p.probe) continue;
      const cfg = cfgOf(p.transport);
      const carryKey = `${keyOf(p)}#${JSON.stringify(cfg)}#${sla}`;
      const was = old.get(carryKey);
      // Probes the previous prober sent were answered to its (closed) socket: unknown, not lost.
      was?.mon.forgetOutstanding();
      this.runners.set(p.id, { path: p, mon: was?.mon ?? new PathMonitor(p.id, opts.slaClasses ?? [], cfg), seq: was?.seq ?? 0, nextSend: 0, lastSent: 0, carryKey,
        ...(was?.report && { report: was.report }) });
    }
    const rec = opts.recorder;
    if (rec) for (const r of this.runners.values()) r.mon.onLoss = (seq, sentAt) => rec.record(r.path.id, seq, sentAt, NaN, NaN, NaN, PROBE_LOST);
  }

  /** Open one socket per local address and start probing every path. */
  async start(): Promise<void> {
    const open = this.opts.openSocket ?? dgramSockets;
    for (const r of this.runners.values()) {
      const a = r.path.localAddress;
      if (!this.sockets.has(a)) this.sockets.set(a, await open(a, (buf, from) => this.onMessage(buf, from)));
      r.sock = this.sockets.get(a);
    }
    this.running = true;
    for (const r of this.runners.values()) { r.nextSend = this.clock.now(); this.fire(r); }
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const r of this.runners.values()) if (r.timer !== undefined) this.timers.clearTimeout(r.timer);
    await Promise.all([...this.sockets.values()].map((s) => s.close()));
    this.sockets.clear();
  }

  /** Paths whose state this prober took over from {@link ProberOptions.previous}. */
  carried(): number[] {
    const prev = new Set([...(this.opts.previous?.runners.values() ?? [])].map((r) => r.mon));
    return [...this.runners.values()].filter((r) => prev.has(r.mon)).map((r) => r.path.id);
  }

  /** The monitor of a path (metrics, state). */
  monitor(pathId: number): PathMonitor | undefined {
    return this.runners.get(pathId)?.mon;
  }

  /** Views of every probed path, for steering. */
  views(): PathView[] {
    const at = this.clock.now();
    return [...this.runners.values()].map((r) => r.mon.view(at));
  }

  /** Feed the data plane's per-path receive counters (deltas since the last call). */
  passive(pathId: number, sample: Omit<PassiveSample, 'at'> & { at?: number }): void {
    const r = this.runners.get(pathId);
    if (!r) return;
    r.mon.passive({ ...sample, at: sample.at ?? this.clock.now() });
    this.flush(r);
  }

  /** The interval the path is probed at now: the monitor's choice, slowed down to fit the budget. */
  intervalMs(pathId: number): number {
    const r = this.runners.get(pathId)!;
    const t = r.path.transport;
    const sharing = [...this.runners.values()].filter((x) => x.path.transport === t).length;
    const budget = this.opts.budgets?.[t] ?? DEFAULT_BUDGET_BPS;
    return Math.max(r.mon.nextIntervalMs(this.clock.now()), budgetIntervalMs(sharing, budget, isIPv6(r.path.remoteAddress)));
  }

  private fire(r: Runner) {
    if (!this.running) return;
    r.timer = undefined;
    const now = this.clock.now();
    r.mon.tick(now);
    // A loss while idling must bring the fast interval back now, not after the slow wait.
    if (r.seq > 0) r.nextSend = Math.min(r.nextSend, r.lastSent + this.intervalMs(r.path.id));
    if (now >= r.nextSend) {
      const seq = r.seq;
      r.seq = (r.seq + 1) >>> 0;
      r.mon.sent(seq, now);
      this.counters.sent++;
      r.sock!.send(encodeProbe({ type: 'request', pathId: r.path.id, seq, senderTs: now, reflectorRxTs: 0, reflectorTxTs: 0, ext: true }), this.opts.port ?? PROBE_PORT, r.path.remoteAddress);
      r.lastSent = now;
      r.nextSend = now + this.intervalMs(r.path.id);
    }
    this.flush(r);
    this.schedule(r);
  }

  private schedule(r: Runner) {
    if (!this.running) return;
    if (r.timer !== undefined) this.timers.clearTimeout(r.timer);
    const d = r.mon.nextDeadline();
    const at = d === undefined ? r.nextSend : Math.min(r.nextSend, d);
    r.timer = this.timers.setTimeout(() => this.fire(r), Math.max(0, at - this.clock.now()));
  }

  private onMessage(buf: Buffer, from: { address: string; port: number }) {
    const now = this.clock.now();
    const d = decodeProbe(buf);
    const r = d.ok && d.msg.type === 'reply' ? this.runners.get(d.msg.pathId) : undefined;
    // A reply counts only from the address the path probes, so a stray or spoofed datagram changes nothing.
    if (!d.ok || !r || from.address !== r.path.remoteAddress) { this.counters.ignored++; return; }
    const m = d.msg;
    const rtt = Math.max(0, now - m.senderTs - Math.max(0, m.reflectorTxTs - m.reflectorRxTs));
    this.counters.replies++;
    const kind = r.mon.reply(m.seq, rtt, now);
    if (this.opts.recorder && kind !== 'duplicate') {
      this.opts.recorder.record(r.path.id, m.seq, m.senderTs, rtt, m.reflectorRxTs ? m.reflectorRxTs - m.senderTs : NaN, m.reflectorTxTs ? now - m.reflectorTxTs : NaN,
        kind === 'late' ? PROBE_LATE : kind === 'reordered' ? PROBE_REORDERED : 0);
    }
    // The peer's report is the passive loss of the direction this edge sends in: only newer reports count.
    if (m.rxReport && kind !== 'duplicate' && (!r.report || seqDiff(m.seq, r.report.seq) > 0)) {
      const d = r.report && reportDelta(r.report.r, m.rxReport);
      r.report = { seq: m.seq, r: m.rxReport };
      if (d && d.received + d.lost + d.reordered > 0) r.mon.passive({ ...d, at: now });
    }
    this.flush(r);
    this.schedule(r);
  }

  private flush(r: Runner) {
    const ev = r.mon.drain();
    if (this.opts.onEvent) for (const e of ev) this.opts.onEvent(e);
  }
}

/**
 * Path supervision inside the agent: the probe responder every edge runs, a prober for the bundle's
 * probed paths, and the steering engine turning path states into a steering table. Path and steering
 * events are kept (the last {@link EVENT_RING}) for the status API and appended to `events.jsonl` in the
 * state directory, the agent's telemetry until the controller's store takes it.
 *
 * With an overlay data plane the table is written to its steering map (agent.ts → overlay.steer), and
 * the responder echoes the overlay's per-path receive counters (pt_rx) to the probing peer: passive loss
 * of the direction that peer steers, as fast as its data flows.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle } from '../bundle/schema.ts';
import { PROBE_PORT, Prober, Responder, defaultPathKey, type MonitorConfig, type PathEvent, type PathView } from '../probe/index.ts';
import { Steerer, type SteerEvent, type SteeringEntry, type SteerPolicy } from '../steer/index.ts';
import type { Clock } from './clock.ts';
import { ComplianceTracker, type SlaCompliance } from './compliance.ts';
import { ReflexiveDiscovery, type ReflexiveStatus } from './reflexive.ts';
import { ProbeLog } from './probe-log.ts';

/** How many recent events the status API shows. */
export const EVENT_RING = 200;
/** Re-evaluate steering at least this often (ms) so dwell and hold-down timers expire. */
const EVALUATE_EVERY_MS = 500;

export type AgentEvent = ({ type: 'path' } & PathEvent) | ({ type: 'steer' } & SteerEvent);

/** One path in the status API. Times in ms; loss a fraction over the monitor's time window. */
export interface PathSummary {
  id: number;
  peer: string;
  transport: string;
  state: string;
  /** One-way latency estimate (srtt / 2); null before the first reply. Kept for older readers. */
  rttMs: number | null;
  /** Smoothed round-trip time and the probe timeout derived from it. */
  srttMs: number | null;
  timeoutMs: number | null;
  /** RTT percentiles over the last 256 replies. */
  rttP50Ms: number | null;
  rttP95Ms: number | null;
  rttP99Ms: number | null;
  /** RFC 3550 jitter (what the SLA is judged on) and the windowed mean / p95 of |ΔRTT|. */
  jitterMs: number;
  jitterMeanMs: number | null;
  jitterP95Ms: number | null;
  loss: number;
  /** Data packets the peer reported received / missing on this path (its echoed pt_rx counters). */
  passiveReceived: number;
  passiveLost: number;
  compliant: string[];
}

export interface PathSupervisorOptions {
  clock: Clock;
  stateDir: string;
  /** UDP port of the responder here and at peers. Default 4784. */
  probePort?: number;
  /**
   * The data plane's receive counters for a peer's path (overlay.rxCounters), echoed to the prober at the
   * peer so it sees the loss of the direction it sends in. Absent without an overlay.
   */
  rxReport?: (address: string, peerPathId: number) => { received: number; lost: number; reordered: number } | undefined;
  /** Probe interval while busy or unhealthy (ms). Default: the monitor's (100). */
  probeIntervalMs?: number;
  /**
   * Further path-monitor settings (see MonitorConfig: idleIntervalMs, downAfter, holdDownMs, …), over the
   * defaults; probeIntervalMs, when set, wins for intervalMs. Example: `{downAfter: 5, holdDownMs: 0}`.
   */
  monitor?: Partial<Pick<MonitorConfig, 'intervalMs' | 'idleIntervalMs' | 'downAfter' | 'holdDownMs' | 'timeoutFloorMs' | 'timeoutCeilingMs' | 'minOutageMs' | 'usePassive'>> & { lossWindowMs?: number; fastWindowMs?: number };
  /** Steering hysteresis over the defaults (e.g. `{failbackHoldMs: 1000}`). */
  steerPolicy?: Partial<SteerPolicy>;
  /** Called with the steering table after every evaluation (the data plane applies it). */
  onSteering?: (table: readonly SteeringEntry[]) => void;
}

type MonitorSettings = NonNullable<PathSupervisorOptions['monitor']>;
const defined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
/** Monitor settings in the prober's shape (the loss windows live in its stats options). */
function proberMonitor(m: MonitorSettings) {
  const { lossWindowMs, fastWindowMs, ...rest } = m;
  const stats = defined({ timeWindowMs: lossWindowMs, fastWindowMs });
  return { ...rest, ...(Object.keys(stats).length && { stats }) };
}

/**
 * The effective tuning for a bundle: the agent's defaults, overridden by the bundle's `probing` section
 * (the intent), overridden by the agent's command-line flags (benches), per transport too.
 */
export function tuningOf(bundle: Bundle, opts: Pick<PathSupervisorOptions, 'monitor' | 'probeIntervalMs' | 'steerPolicy'>) {
  const bp = bundle.probing ?? {};
  const flags: MonitorSettings = { ...opts.monitor, ...(opts.probeIntervalMs && { intervalMs: opts.probeIntervalMs }) };
  const base: MonitorSettings = {
    ...defined({
      intervalMs: bp.intervalMs, idleIntervalMs: bp.idleIntervalMs, downAfter: bp.downAfter, holdDownMs: bp.holdDownMs,
      timeoutFloorMs: bp.timeoutFloorMs, timeoutCeilingMs: bp.timeoutCeilingMs, minOutageMs: bp.minOutageMs,
      lossWindowMs: bp.lossWindowMs, usePassive: bp.passive,
    }),
    ...flags,
  };
  const transports = Object.fromEntries(Object.entries(bp.transports ?? {}).map(([t, o]) => [t, proberMonitor({ ...defined(o), ...flags })]));
  const steer: Partial<SteerPolicy> = {
    ...defined({ minDwellMs: bp.minDwellMs, failbackHoldMs: bp.failbackHoldMs, failoverScore: bp.failoverScore, failbackScore: bp.failbackScore, betterBy: bp.betterBy }),
    ...opts.steerPolicy,
  };
  return { monitor: proberMonitor(base), transports, steer, budgets: bp.budgets };
}

export class PathSupervisor {
  private responder?: Responder;
  /** The same responder on the alternate port (probe port + 1): NAT mapping detection (reflexive.ts). */
  private altResponder?: Responder;
  private readonly reflexive: ReflexiveDiscovery;
  private prober?: Prober;
  private steerer?: Steerer;
  private bundle?: Bundle;
  private timer?: NodeJS.Timeout;
  private sampler?: NodeJS.Timeout;
  private readonly compliance = new ComplianceTracker();
  private table: SteeringEntry[] = [];
  private readonly events: AgentEvent[] = [];
  private eventCount = 0;
  /** Every probe outcome of every bundle's prober, for `GET /probes` (probe-log.ts). */
  readonly probes: ProbeLog;

  constructor(private readonly opts: PathSupervisorOptions) {
    this.reflexive = new ReflexiveDiscovery(opts.probePort ?? PROBE_PORT);
    this.probes = new ProbeLog(undefined, () => opts.clock.now());
  }

  /** Start the responder (peers probe us whether or not we have a bundle yet). */
  async start(): Promise<void> {
    this.responder = new Responder({ port: this.opts.probePort, clock: this.opts.clock, ...(this.opts.rxReport && { rxReport: this.opts.rxReport }) });
    await this.responder.start();
    const port = this.opts.probePort ?? PROBE_PORT;
    if (port > 0 && port < 65535) {
      this.altResponder = new Responder({ port: port + 1, clock: this.opts.clock });
      // Without the alternate port peers only learn `unknown` mappings (and relay): not worth failing the agent.
      try { await this.altResponder.start(); } catch { this.altResponder = undefined; }
    }
  }

  /** Probe and steer for a newly applied bundle (stopping what the previous bundle started). */
  async load(bundle: Bundle): Promise<void> {
    const previous = this.prober;
    await previous?.stop();
    this.bundle = bundle;
    // An encrypted path is probed between its tunnel addresses, through the tunnel: its state is the encrypted path's.
    const probed = bundle.paths.filter((p) => p.probe).map((p) => (p.wireguard
      ? { ...p, localAddress: p.wireguard.address, remoteAddress: p.wireguard.peerAddress, gateway: undefined }
      : p));
    const t = tuningOf(bundle, this.opts);
    this.prober = new Prober({
      paths: probed,
      slaClasses: bundle.slaClasses.map((s) => ({ name: s.name, latencyMs: s.latencyMs, jitterMs: s.jitterMs, loss: s.loss })),
      clock: this.opts.clock,
      port: this.opts.probePort,
      monitor: t.monitor, transportMonitor: t.transports, ...(t.budgets && { budgets: t.budgets }),
      onEvent: (e) => {
        this.record({ type: 'path', ...e });
        // A path back up may come through a restarted NAT with new mappings: learn them again.
        if (e.kind === 'state' && e.to === 'up' && e.from !== 'unknown') this.reflexive.relearn();
        this.evaluate();
      },
      recorder: this.probes,
      // A path the new bundle leaves alone keeps its state (no trip through "down" and off the path); an
      // encrypted path is the same path while its underlay is, even when it is probed through a new tunnel
      // (a key rotation's last step).
      previous, pathKey: (p) => defaultPathKey(bundle.paths.find((x) => x.id === p.id) ?? p),
    });
    this.probes.setPeers(bundle.paths);
    this.steerer = new Steerer({ paths: bundle.paths, rules: bundle.rules, slaClasses: bundle.slaClasses }, t.steer);
    await this.prober.start();
    await this.reflexive.load(bundle);
    this.timer ??= setInterval(() => this.evaluate(), EVALUATE_EVERY_MS);
    this.timer.unref();
    this.evaluate();
    // SLA compliance is sampled once per (busy) probe interval: no path state changes faster than that.
    this.compliance.reset(bundle.rules, this.opts.clock.now());
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = setInterval(() => this.sampleCompliance(), Math.max(t.monitor.intervalMs ?? 100, 10));
    this.sampler.unref();
  }

  private sampleCompliance(): void {
    if (!this.prober) return;
    const views = new Map<number, PathView>(this.prober.views().map((v) => [v.id, v]));
    this.compliance.sample(this.opts.clock.now(), this.table, (id) => views.get(id)?.compliant);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.sampler) clearInterval(this.sampler);
    this.timer = this.sampler = undefined;
    await this.prober?.stop();
    await this.reflexive.stop();
    await this.responder?.stop();
    await this.altResponder?.stop();
  }

  private evaluate(): void {
    if (!this.steerer || !this.prober) return;
    const { table, events } = this.steerer.evaluate(this.opts.clock.now(), this.prober.views());
    this.table = table;
    for (const e of events) this.record({ type: 'steer', ...e });
    this.opts.onSteering?.(table);
  }

  private record(e: AgentEvent): void {
    this.eventCount++;
    this.events.push(e);
    if (this.events.length > EVENT_RING) this.events.shift();
    try {
      appendFileSync(join(this.opts.stateDir, 'events.jsonl'), JSON.stringify(e) + '\n');
    } catch { /* the state dir went away (twin teardown): the ring still holds the event */ }
  }

  /**
   * Path states, the steering table, recent events, per-SLA-class compliance (compliance.ts) and the WAN
   * interfaces' reflexive endpoints (reflexive.ts), for the status API.
   */
  /** The WAN interfaces' reflexive endpoints alone (the controller link reports them; cheaper than {@link status}). */
  reflexiveStatus(): ReflexiveStatus[] {
    return this.reflexive.status();
  }

  status(): { paths: PathSummary[]; steering: SteeringEntry[]; events: { total: number; recent: AgentEvent[] }; sla: SlaCompliance; reflexive: ReflexiveStatus[] } {
    const views = new Map<number, PathView>((this.prober?.views() ?? []).map((v) => [v.id, v]));
    const now = this.opts.clock.now();
    const paths = (this.bundle?.paths ?? []).map((p): PathSummary => {
      const v = views.get(p.id);
      const mon = this.prober?.monitor(p.id);
      const m = mon?.metrics(now);
      return {
        id: p.id, peer: p.peerNode, transport: p.transport, state: v?.state ?? (p.probe ? 'unknown' : 'not probed'),
        rttMs: v?.metrics.latency ?? null, srttMs: m?.srtt ?? null, timeoutMs: m?.srtt !== undefined ? mon!.timeoutMs() : null,
        rttP50Ms: m?.p50 ?? null, rttP95Ms: m?.p95 ?? null, rttP99Ms: m?.p99 ?? null,
        jitterMs: v?.metrics.jitter ?? 0, jitterMeanMs: m?.jitterMean ?? null, jitterP95Ms: m?.jitterP95 ?? null,
        loss: v?.metrics.loss ?? 0, passiveReceived: m?.passiveReceived ?? 0, passiveLost: m?.passiveLost ?? 0,
        compliant: v ? [...v.compliant].sort() : [],
      };
    });
    return { paths, steering: this.table, events: { total: this.eventCount, recent: this.events.slice(-20) }, sla: this.compliance.report(now), reflexive: this.reflexive.status() };
  }
}

/**
 * Path supervision inside the agent: the probe responder every edge runs, a prober for the bundle's
 * probed paths, and the steering engine turning path states into a steering table. Path and steering
 * events are kept (the last {@link EVENT_RING}) for the status API and appended to `events.jsonl` in the
 * state directory, the agent's telemetry until the controller's store takes it.
 *
 * Forwarding still follows the kernel routes (see kernel-routes.ts) until the XDP steering map lands;
 * the table here is what the data plane will be told.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle } from '../bundle/schema.ts';
import { Prober, Responder, type MonitorConfig, type PathEvent, type PathView } from '../probe/index.ts';
import { Steerer, type SteerEvent, type SteeringEntry, type SteerPolicy } from '../steer/index.ts';
import type { Clock } from './clock.ts';

/** How many recent events the status API shows. */
export const EVENT_RING = 200;
/** Re-evaluate steering at least this often (ms) so dwell and hold-down timers expire. */
const EVALUATE_EVERY_MS = 500;

export type AgentEvent = ({ type: 'path' } & PathEvent) | ({ type: 'steer' } & SteerEvent);

export interface PathSummary {
  id: number;
  peer: string;
  transport: string;
  state: string;
  rttMs: number | null;
  jitterMs: number;
  loss: number;
  compliant: string[];
}

export interface PathSupervisorOptions {
  clock: Clock;
  stateDir: string;
  /** UDP port of the responder here and at peers. Default 4784. */
  probePort?: number;
  /** Probe interval while busy or unhealthy (ms). Default: the monitor's (100). */
  probeIntervalMs?: number;
  /**
   * Further path-monitor settings (see MonitorConfig: idleIntervalMs, downAfter, holdDownMs, …), over the
   * defaults; probeIntervalMs, when set, wins for intervalMs. Example: `{downAfter: 5, holdDownMs: 0}`.
   */
  monitor?: Partial<Pick<MonitorConfig, 'intervalMs' | 'idleIntervalMs' | 'downAfter' | 'holdDownMs' | 'timeoutFloorMs'>>;
  /** Steering hysteresis over the defaults (e.g. `{failbackHoldMs: 1000}`). */
  steerPolicy?: Partial<SteerPolicy>;
  /** Called with the steering table after every evaluation (the data plane applies it). */
  onSteering?: (table: readonly SteeringEntry[]) => void;
}

export class PathSupervisor {
  private responder?: Responder;
  private prober?: Prober;
  private steerer?: Steerer;
  private bundle?: Bundle;
  private timer?: NodeJS.Timeout;
  private table: SteeringEntry[] = [];
  private readonly events: AgentEvent[] = [];
  private eventCount = 0;

  constructor(private readonly opts: PathSupervisorOptions) {}

  /** Start the responder (peers probe us whether or not we have a bundle yet). */
  async start(): Promise<void> {
    this.responder = new Responder({ port: this.opts.probePort, clock: this.opts.clock });
    await this.responder.start();
  }

  /** Probe and steer for a newly applied bundle (stopping what the previous bundle started). */
  async load(bundle: Bundle): Promise<void> {
    await this.prober?.stop();
    this.bundle = bundle;
    const probed = bundle.paths.filter((p) => p.probe);
    this.prober = new Prober({
      paths: probed,
      slaClasses: bundle.slaClasses.map((s) => ({ name: s.name, latencyMs: s.latencyMs, jitterMs: s.jitterMs, loss: s.loss })),
      clock: this.opts.clock,
      port: this.opts.probePort,
      monitor: { ...this.opts.monitor, ...(this.opts.probeIntervalMs && { intervalMs: this.opts.probeIntervalMs }) },
      onEvent: (e) => { this.record({ type: 'path', ...e }); this.evaluate(); },
    });
    this.steerer = new Steerer({ paths: bundle.paths, rules: bundle.rules, slaClasses: bundle.slaClasses }, this.opts.steerPolicy);
    await this.prober.start();
    this.timer ??= setInterval(() => this.evaluate(), EVALUATE_EVERY_MS);
    this.timer.unref();
    this.evaluate();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.prober?.stop();
    await this.responder?.stop();
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

  /** Path states, the steering table and recent events, for the status API. */
  status(): { paths: PathSummary[]; steering: SteeringEntry[]; events: { total: number; recent: AgentEvent[] } } {
    const views = new Map<number, PathView>((this.prober?.views() ?? []).map((v) => [v.id, v]));
    const paths = (this.bundle?.paths ?? []).map((p): PathSummary => {
      const v = views.get(p.id);
      return {
        id: p.id, peer: p.peerNode, transport: p.transport, state: v?.state ?? (p.probe ? 'unknown' : 'not probed'),
        rttMs: v?.metrics.latency ?? null, jitterMs: v?.metrics.jitter ?? 0, loss: v?.metrics.loss ?? 0,
        compliant: v ? [...v.compliant].sort() : [],
      };
    });
    return { paths, steering: this.table, events: { total: this.eventCount, recent: this.events.slice(-20) } };
  }
}

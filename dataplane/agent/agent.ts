/**
 * The edge agent: receives a bundle, validates it, applies it atomically (kernel routes now; XDP maps,
 * probes and BGP as later issues land) and keeps it as last-good on disk, so a restarted agent — or one
 * whose controller is unreachable — keeps forwarding with what it last applied.
 *
 * Control API (HTTP over a unix socket; the mTLS edge API comes with the controller issue):
 *   GET  /status  → AgentStatus
 *   GET  /bgp/routes → the speaker's best paths and what the route merge installed / skipped (fib.ts)
 *   PUT  /bundle  → apply the JSON bundle in the body; 200 {hash} or 400 {error}
 *   GET  /wg-key  → {publicKey, generation, next?}: the edge's WireGuard public key(s) (wg.ts), for the controller's inventory
 *   POST /wg-key/rotate → the same, with a next key generated: starts a key rotation (docs/overlay.md, "Key rotation")
 *   GET  /probes?since=N[&log=ID][&limit=N] → raw probe results from row N on, 4096 by default (probe-log.ts ProbeLogPage)
 */
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bundle } from '../bundle/schema.ts';
import { contentHash } from '../bundle/hash.ts';
import { InputError, validate } from '../errors.ts';
import { KernelRouteWriter, planKernelRoutes, type RoutePlan, type RouteWriteStats } from './kernel-routes.ts';
import { realClock, type Clock, type ClockSkew } from './clock.ts';
import { probeQuery, PROBE_PAGE_ROWS } from './probe-log.ts';
import { PathSupervisor, type AgentEvent, type PathSummary, type PathSupervisorOptions } from './paths.ts';
import type { SlaCompliance } from './compliance.ts';
import { Overlay, type Datapath, type OverlayStatus } from './overlay.ts';
import type { ReflexiveStatus } from './reflexive.ts';
import { WanQos, type QosStatus } from './qos.ts';
import type { SteeringEntry } from '../steer/index.ts';
import { AgentBgp, bgpConfigOf, type BgpSummary } from './bgp.ts';
import { IncrementalFib, updateInSlices, withOverlayRoutes, type BgpFibChange, type MergedFib } from './fib.ts';
import { AgentWanopt, type WanoptStatus } from './wanopt.ts';
import { LoopLag, type LoopLagStatus } from './loop-lag.ts';
import { AgentWireguard, type WgStatus } from './wg.ts';
import type { KeyRingState } from '../wg/index.ts';
import type { ControllerLinkStatus } from './controller-client.ts';

export interface AgentOptions {
  node: string;
  /** Where last-good bundle and logs live. */
  stateDir: string;
  /** Unix socket of the control API. */
  socket: string;
  /** Where the agent reads time (default: the host clock; the twin passes a skewed one, see clock.ts). */
  clock?: Clock;
  /** UDP port of the probe responder (here and at peers). Default 4784. */
  probePort?: number;
  /** Probe interval while busy or unhealthy, ms. Default 100. */
  probeIntervalMs?: number;
  /** Path-monitor and steering tuning (the CLI's --probe-*, --failback-hold and --min-dwell); defaults when absent. */
  monitor?: PathSupervisorOptions['monitor'];
  steerPolicy?: PathSupervisorOptions['steerPolicy'];
  /**
   * Forwarding between sites: `kernel` (routes only, native over on-link underlays), or the overlay data
   * plane as `xdp` or `tc` programs (see overlay.ts). Default kernel.
   */
  datapath?: 'kernel' | Datapath;
  /** bpffs directory for pinned maps (overlay data paths). Default /sys/fs/bpf/patronus/agent-<node>. */
  bpfDir?: string;
}

export interface AgentStatus {
  node: string;
  pid: number;
  startedAt: string;
  uptimeMs: number;
  bundle: null | { hash: string; intent: string; site: string; appliedAt: string; source: 'pushed' | 'last-good' };
  /** Kernel routes: how many the last merge installed, what the bundle could not, and what the last write did (diff or full). */
  routes: { installed: number; skipped: RoutePlan['skipped']; lastWrite: RouteWriteStats | null };
  lastError: string | null;
  /** The agent's own clock: its wall time now (ISO and ms) and the skew it was started with. */
  clock: { now: string; nowMs: number; skew: ClockSkew | null };
  /** The overlay data plane, when the agent runs one. */
  overlay: OverlayStatus | null;
  /** The WAN shapers (with the overlay data plane): HTB classes and their counters per shaped device. */
  qos: QosStatus | null;
  /** Probed path states, the steering table and recent path/steering events. */
  paths: PathSummary[];
  steering: SteeringEntry[];
  events: { total: number; recent: AgentEvent[] };
  /** Per-SLA-class compliance over the last minute (compliance.ts); sent in the controller health report. */
  sla: SlaCompliance;
  /** The BGP speaker (null without BGP) and what the route merge (fib.ts) did with its best paths. */
  bgp: (BgpSummary & { installed: number; skipped: MergedFib['bgp']['skipped']; overlayOmitted: number }) | null;
  /** The WAN-opt proxy and FEC relay (null when the bundle has no WAN-opt or FEC classes). */
  wanopt: WanoptStatus | null;
  /** This process's event-loop lag since start (loop-lag.ts): a run on an overloaded twin is judged by it. */
  eventLoop: LoopLagStatus;
  /** WireGuard devices of the encrypted paths (wg.ts); null when the bundle has none. */
  wireguard: WgStatus | null;
  /** Per WAN interface with probed paths: its reflexive endpoint and NAT mapping as the peers see it (reflexive.ts). */
  reflexive: ReflexiveStatus[];
  /** The controller link (controller-client.ts: reachability, queued health reports); null when the agent runs without one. */
  controller: ControllerLinkStatus | null;
}

export class Agent {
  private server?: Server;
  private readonly clock: Clock;
  private readonly started: Date;
  private readonly startedMono: number;
  private status: Omit<AgentStatus, 'clock' | 'paths' | 'steering' | 'events' | 'overlay' | 'qos' | 'bgp' | 'wanopt' | 'eventLoop' | 'wireguard' | 'sla' | 'reflexive' | 'controller'>;
  private controllerStatus?: () => ControllerLinkStatus;
  private readonly bgp: AgentBgp;
  /** The applied bundle and its route merge (bundle + BGP routes), updated per BGP batch; undefined = rebuild in full. */
  private bundle?: Bundle;
  private fib?: IncrementalFib;
  /** BGP best-path changes not merged yet (by segment|prefix, last wins). */
  /** BGP changes not merged yet, in order (IncrementalFib.update lets the last change of a prefix win). */
  private pendingBgp: BgpFibChange[] = [];
  private stopping = false;
  private readonly paths: PathSupervisor;
  private readonly overlay?: Overlay;
  private readonly qos?: WanQos;
  private readonly wanopt = new AgentWanopt();
  private readonly loopLag = new LoopLag();
  private readonly wg: AgentWireguard;
  private refreshTimer?: NodeJS.Timeout;
  /** Kernel route writes: full on a bundle apply, only the difference on a BGP batch. */
  private readonly kernelRoutes = new KernelRouteWriter();
  /** A BGP re-merge is queued behind the current apply: later batches join it instead of queueing more. */
  private remergeQueued = false;
  /** Serialises applies: one bundle at a time. */
  private applying: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: AgentOptions) {
    this.clock = opts.clock ?? realClock;
    this.started = new Date(this.clock.now());
    this.startedMono = this.clock.monotonic();
    // A path moving into its key rotation's new tunnel re-points its overlay entry, between applies.
    this.wg = new AgentWireguard(opts.stateDir, {}, Date.now, () => {
      void this.serialised(async () => {
        try { this.overlay?.reprogram(); } catch (e) { this.status.lastError = `overlay after a WireGuard switch: ${(e as Error).message}`; }
      });
    });
    if (opts.datapath && opts.datapath !== 'kernel') {
      const pinDir = opts.bpfDir ?? `/sys/fs/bpf/patronus/agent-${opts.node}`;
      this.overlay = new Overlay({ datapath: opts.datapath, pinDir, wgDevice: (id) => this.wg.device(id) });
      this.qos = new WanQos({ pinDir, probePort: opts.probePort });
    }
    this.paths = new PathSupervisor({
      clock: this.clock, stateDir: opts.stateDir, probePort: opts.probePort, probeIntervalMs: opts.probeIntervalMs,
      rxReport: (address, peerPathId) => this.overlay?.rxCounters(address, peerPathId),
      monitor: opts.monitor, steerPolicy: opts.steerPolicy,
      onSteering: (table) => {
        try { this.overlay?.steer(table); } catch (e) { this.status.lastError = `steering map: ${(e as Error).message}`; }
        this.wanopt.steer(table);
      },
    });
    // BGP best-path batches update the merge, serialised with bundle applies.
    this.bgp = new AgentBgp({
      onRoutes: (changes) => {
        for (const c of changes) this.pendingBgp.push(c);
        if (this.stopping || this.remergeQueued) return;
        this.remergeQueued = true;
        void this.serialised(() => { this.remergeQueued = false; return this.remerge(); });
      },
      eventsFile: join(opts.stateDir, 'events.jsonl'), now: () => this.clock.now(),
    });
    this.status = {
      node: opts.node, pid: process.pid, startedAt: this.started.toISOString(), uptimeMs: 0,
      bundle: null, routes: { installed: 0, skipped: [], lastWrite: null }, lastError: null,
    };
  }

  private get lastGoodPath() { return join(this.opts.stateDir, 'bundle.json'); }

  /** Start: re-apply the last-good bundle if there is one, then serve the control API. */
  async start(): Promise<void> {
    mkdirSync(this.opts.stateDir, { recursive: true });
    this.wg.publicKey();
    this.loopLag.start();
    this.overlay?.load();
    this.qos?.load();
    await this.paths.start();
    if (this.overlay) {
      // Next hops resolve as probes flow; paths become usable in the maps as they do.
      this.refreshTimer = setInterval(() => {
        try { this.overlay!.refresh(); } catch (e) { this.status.lastError = `overlay refresh: ${(e as Error).message}`; }
      }, 250);
      this.refreshTimer.unref();
    }
    if (existsSync(this.lastGoodPath)) {
      try {
        await this.apply(JSON.parse(readFileSync(this.lastGoodPath, 'utf8')), 'last-good');
      } catch (e) {
        this.status.lastError = `last-good bundle not applied: ${(e as Error).message}`;
      }
    }
    rmSync(this.opts.socket, { force: true });
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => { this.server!.once('error', reject); this.server!.listen(this.opts.socket, resolve); });
  }

  async stop(): Promise<void> {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.wg.stop();
    this.loopLag.stop();
    // BGP routes stay in the kernel like the rest (last-good); the next start re-merges them.
    this.stopping = true;
    await this.bgp.stop();
    await this.paths.stop();
    this.overlay?.close();
    this.qos?.close();
    await this.wanopt.stop();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    rmSync(this.opts.socket, { force: true });
  }

  getStatus(): AgentStatus {
    const nowMs = this.clock.now();
    const skew = (this.clock as { skew?: ClockSkew }).skew ?? null;
    return {
      ...this.status, uptimeMs: Math.round(this.clock.monotonic() - this.startedMono),
      clock: { now: new Date(nowMs).toISOString(), nowMs, skew }, overlay: this.overlay?.status() ?? null,
      qos: this.qos?.status() ?? null, ...this.paths.status(),
      bgp: this.bgpStatus(), wanopt: this.wanopt.status(), eventLoop: this.loopLag.status(), wireguard: this.wg.status(),
      controller: this.controllerStatus?.() ?? null,
    };
  }

  /** The edge's WireGuard keys (current, generation, next during a rotation): the controller link reports them. */
  wireguardKeys(): KeyRingState {
    return this.wg.keyState();
  }

  /** The reflexive endpoints of the WAN interfaces, for the controller link's inventory report (no full status). */
  reflexiveEndpoints(): ReflexiveStatus[] {
    return this.paths.reflexiveStatus();
  }

  /** Shows the controller link's state in `GET /status` (cli.ts, when started with --controller). */
  linkController(status: () => ControllerLinkStatus): void {
    this.controllerStatus = status;
  }

  private bgpStatus(): AgentStatus['bgp'] {
    const s = this.bgp.status();
    return s && { ...s, installed: this.fib?.installedCount ?? 0, skipped: this.fib?.skipped() ?? [], overlayOmitted: this.fib?.overlayOmitted ?? 0 };
  }

  /** Validate and apply a bundle; on success it becomes last-good. Throws InputError for an invalid bundle. */
  apply(raw: unknown, source: 'pushed' | 'last-good' = 'pushed'): Promise<string> {
    return this.serialised(() => this.applyNow(raw, source));
  }

  /**
   * Commit-confirmed apply (controller-client.ts): apply like {@link apply} but do NOT make the bundle
   * last-good; {@link confirm} does that once the agent found itself healthy, {@link revertToLastGood} puts the
   * saved last-good back. A restart before confirm re-applies the old last-good.
   */
  applyTentative(raw: unknown): Promise<string> {
    return this.serialised(() => this.applyNow(raw, 'pushed', false));
  }

  /** Make the bundle applied now last-good (on disk). */
  confirm(): void {
    if (this.bundle) this.saveLastGood(this.bundle);
  }

  /** Re-apply the last-good bundle from disk; resolves with its hash, or null when there is none. */
  revertToLastGood(): Promise<string | null> {
    return this.serialised(async () => {
      if (!existsSync(this.lastGoodPath)) return null;
      return this.applyNow(JSON.parse(readFileSync(this.lastGoodPath, 'utf8')), 'last-good');
    });
  }

  /** The bundle applied now (undefined before the first). */
  currentBundle(): Bundle | undefined { return this.bundle; }

  private saveLastGood(bundle: Bundle): void {
    const tmp = `${this.lastGoodPath}.tmp`;
    writeFileSync(tmp, JSON.stringify(bundle, null, 1));
    renameSync(tmp, this.lastGoodPath);
  }

  private serialised<T>(f: () => Promise<T>): Promise<T> {
    const run = this.applying.then(f);
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async applyNow(raw: unknown, source: 'pushed' | 'last-good', persist = source === 'pushed'): Promise<string> {
    const bundle = validate(Bundle, raw, `bundle for ${this.opts.node}`);
    if (bundle.node !== this.opts.node) {
      throw new InputError(`bundle for ${this.opts.node}`, [{ path: ['node'], message: `bundle is for node "${bundle.node}", this agent is "${this.opts.node}"` }]);
    }
    const bgpConfig = bgpConfigOf(bundle, `bundle for ${this.opts.node}`); // InputError before anything is touched
    const hash = contentHash(bundle);
    const plan = planKernelRoutes(bundle);
    // The full merge over the speaker's table as it is now; changes from here on are merged by the next remerge.
    this.pendingBgp = [];
    const fib = new IncrementalFib(bundle, plan, this.bgp.routes());
    this.fib = undefined; // a failure below leaves the next BGP batch to rebuild in full
    await this.programKernel(fib.kernelPlan(), true);
    // The shaper first, so paths the overlay marks shaped meet their qdisc. A tc failure is reported, not fatal.
    let qosError: string | null = null;
    try { this.qos?.apply(bundle); } catch (e) { qosError = (e as Error).message; }
    // Encrypted paths' devices before the maps that point into them; a failed device leaves its path unresolved.
    await this.wg.apply(bundle);
    this.overlay?.apply(withOverlayRoutes(bundle, fib.overlay()));
    this.bundle = bundle;
    this.fib = fib;
    this.bgp.setAccepted(fib.acceptedByPeer());
    if (persist) this.saveLastGood(bundle);
    this.status.bundle = { hash, intent: bundle.intent, site: bundle.site, appliedAt: new Date(this.clock.now()).toISOString(), source };
    this.status.routes = { installed: fib.kernelRouteCount, skipped: plan.skipped, lastWrite: this.kernelRoutes.last ?? null };
    const wgError = this.wg.lastError();
    this.status.lastError = qosError ?? (wgError ? `wireguard: ${wgError}` : null);
    await this.paths.load(bundle);
    // WAN-opt after the data plane that hands it its packets; a failure is reported, not fatal.
    try { await this.wanopt.apply(bundle); } catch (e) { this.status.lastError = `wanopt: ${(e as Error).message}`; }
    try {
      await this.bgp.configure(bgpConfig);
    } catch (e) {
      this.status.lastError = (e as Error).message;
    }
    return hash;
  }

  /**
   * Merge the pending BGP changes (coalesced batches): only the changed prefixes are merged and only the
   * changed kernel routes written (fib.ts IncrementalFib); after a failure the merge is rebuilt in full.
   */
  private async remerge(): Promise<void> {
    const bundle = this.bundle;
    if (!bundle) return;
    try {
      let fib = this.fib;
      this.fib = undefined; // until this batch is written
      if (!fib) {
        this.pendingBgp = [];
        fib = new IncrementalFib(bundle, planKernelRoutes(bundle), this.bgp.routes());
        await this.programKernel(fib.kernelPlan(), true);
        this.overlay?.apply(withOverlayRoutes(bundle, fib.overlay()), { incremental: true });
      } else {
        const changes = this.pendingBgp;
        this.pendingBgp = [];
        const f = fib;
        // A full table arrives as one batch: merged and written in slices with the event loop free between
        // them, so BGP KEEPALIVEs keep flowing (fib.ts updateInSlices).
        await updateInSlices(f, changes, async (d) => {
          await this.kernelRoutes.writeChanges(d, () => f.kernelPlan());
          // Same overlay routes (e.g. past the overlay limit): the maps stay as they are.
          // Only the changed overlay routes are written (applyRoutes); a full overlay sync when the maps' state is unknown.
          if (d.overlayChanged && this.overlay && !this.overlay.applyRoutes(d.overlay, () => withOverlayRoutes(bundle, f.overlay()))) this.overlay.apply(withOverlayRoutes(bundle, f.overlay()), { incremental: true });
        });
      }
      this.fib = fib;
      this.bgp.setAccepted(fib.acceptedByPeer());
      this.status.routes = { ...this.status.routes, installed: fib.kernelRouteCount, lastWrite: this.kernelRoutes.last ?? null };
    } catch (e) {
      this.status.lastError = `BGP route merge: ${(e as Error).message}`;
    }
  }

  /** Kernel routes and rules for `plan`: `full` converges from whatever the kernel holds, else only the changes are written. */
  private async programKernel(plan: RoutePlan, full: boolean): Promise<void> {
    await this.kernelRoutes.write(plan, { full });
  }

  private async handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body) + '\n');
    };
    try {
      if (req.method === 'GET' && req.url === '/status') return send(200, this.getStatus());
      if (req.method === 'GET' && req.url === '/wg-key') return send(200, this.wg.keyState());
      if (req.method === 'POST' && req.url === '/wg-key/rotate') return send(200, this.wg.rotate());
      if (req.method === 'GET' && (req.url === '/probes' || req.url?.startsWith('/probes?'))) {
        let q;
        try { q = probeQuery(req.url); } catch (e) { return send(400, { error: (e as Error).message }); }
        return send(200, this.paths.probes.read(q.since, q.limit ?? PROBE_PAGE_ROWS, q.log));
      }
      if (req.method === 'GET' && req.url === '/bgp/routes') { const m = this.fib?.merged(); return send(200, { routes: this.bgp.routes(), installed: m?.bgp.installed ?? [], skipped: m?.bgp.skipped ?? [] }); }
      if (req.method === 'PUT' && req.url === '/bundle') {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        let body: unknown;
        try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')); } catch { return send(400, { error: 'body is not JSON' }); }
        try {
          return send(200, { hash: await this.apply(body) });
        } catch (e) {
          if (e instanceof InputError) return send(400, { error: e.message });
          this.status.lastError = (e as Error).message;
          return send(500, { error: (e as Error).message });
        }
      }
      send(404, { error: `no route for ${req.method} ${req.url}` });
    } catch (e) {
      send(500, { error: (e as Error).message });
    }
  }
}

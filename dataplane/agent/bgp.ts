/**
 * The agent's BGP: runs the speaker (dataplane/bgp) configured from the bundle's `bgp` section and keeps
 * its best paths per segment for the route merge (fib.ts).
 *
 * Lifecycle: `{}` (no asn) = no speaker. A bundle whose BGP configuration differs from the running one
 * (compared as canonical JSON after defaults) is applied in place ({@link BgpSpeaker.reconfigure}): only
 * neighbours that were added, removed or whose session settings changed are touched, policy changes
 * become a route refresh / re-export. A new AS, router id, cluster id or listener stops the speaker —
 * Cease / Administrative Shutdown to every peer, its routes withdrawn from the FIB — and starts a new one.
 *
 * Events: session state changes, reconfigurations and one summary per route batch (added / changed /
 * withdrawn best paths) go to {@link AgentBgpOptions.onEvent}; the agent appends them to the same
 * `events.jsonl` as path and steering events, e.g.
 * `{"type":"bgp","kind":"session","at":1764158400000,"address":"10.255.0.2","from":"OpenConfirm","to":"Established","reason":"KEEPALIVE received"}`.
 *
 * Best-path changes come from the speaker in bursts (one array per UPDATE, `'bests'`); they are coalesced:
 * the first change arms a timer and the changes since the last batch are handed to `onRoutes`, in order,
 * {@link AgentBgpOptions.batchMs} later (default 50 ms), so a full table costs one incremental merge, one
 * kernel batch and one map sync, not one per prefix — and a batch of three changes costs three, not the table.
 * The best paths themselves are not copied here: {@link AgentBgp.routes} reads them from the speaker's RIBs
 * (a full table held once, not twice).
 */
import { appendFileSync } from 'node:fs';
import { BgpSpeaker, parseSpeakerConfig, type Route, type SpeakerConfig, type State } from '../bgp/index.ts';
import type { Bundle } from '../bundle/schema.ts';
import type { BgpFibChange, BgpFibRoute } from './fib.ts';

export interface AgentBgpOptions {
  /**
   * Called after each batch with the best-path changes since the last one, in order (route undefined:
   * withdrawn); a prefix may appear more than once, the last change wins (IncrementalFib.update applies them in order).
   */
  onRoutes: (changes: BgpFibChange[]) => void;
  /** Coalescing window, ms (default 50). */
  batchMs?: number;
  /** Receives session, reconfiguration and route-batch events (see {@link BgpEvent}). */
  onEvent?: (e: BgpEvent) => void;
  /** Also append each event as a JSON line to this file (the agent's `events.jsonl`). */
  eventsFile?: string;
  /** Wall clock for event times, ms since the epoch (default Date.now). */
  now?: () => number;
}

/**
 * A BGP event for the agent's event log. `at` in ms since the epoch.
 * - session: a neighbour's FSM changed state (`from` → `to`, with the FSM's reason);
 * - routes: one coalesced batch of best-path changes: counts of prefixes added, changed (new best path)
 *   and withdrawn, and the table size after it (not one line per prefix: a full table is 1 M of them);
 * - reconfigured: a new bundle applied in place (what was done) or by restarting the speaker.
 */
export type BgpEvent =
  | { type: 'bgp'; kind: 'session'; at: number; address: string; from: State; to: State; reason: string }
  | { type: 'bgp'; kind: 'routes'; at: number; added: number; changed: number; withdrawn: number; total: number }
  | { type: 'bgp'; kind: 'reconfigured'; at: number; mode: 'in-place' | 'restart' | 'stopped'; added?: string[]; removed?: string[]; restarted?: string[]; refreshed?: string[]; reexported?: string[] };

export interface BgpNeighborSummary {
  address: string;
  asn: number;
  segment: string;
  state: State;
  /** Last state-change reason from the session. */
  reason: string;
  /** Paths held from this neighbour after import policy (Adj-RIB-In). */
  received: number;
  /** Of those, how many the route merge installed (best and not shadowed). */
  accepted: number;
}

export interface BgpSummary {
  asn: number;
  routerId: string;
  neighbors: BgpNeighborSummary[];
  /** Best paths learned from neighbours, all segments. */
  routes: number;
}

/**
 * The speaker configuration a bundle asks for, or undefined for no BGP. Router id defaults to the
 * first WAN, else LAN, IPv4 address. Throws InputError (naming `file`) for a bad section.
 */
export function bgpConfigOf(bundle: Bundle, file: string): SpeakerConfig | undefined {
  const b = bundle.bgp;
  if (b.asn === undefined) return undefined;
  const addr = [...bundle.interfaces.wan, ...bundle.interfaces.lan].flatMap((i) => i.ipv4).map((a) => a.split('/')[0]!).find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a));
  return parseSpeakerConfig({ ...b, ...(b.routerId === undefined && addr ? { routerId: addr } : {}) }, `${file}: bgp`);
}

/** A best path reduced to what the route merge needs. */
function fibRoute(segment: string, best: Route): BgpFibRoute {
  const route: BgpFibRoute = { segment, prefix: best.prefix, nextHop: best.attrs.nextHop, peer: best.peer?.id, ibgp: best.peer?.ibgp ?? false };
  if (best.attrs.nextHopLinkLocal) route.nextHopLinkLocal = best.attrs.nextHopLinkLocal;
  return route;
}

export class AgentBgp {
  private speaker?: BgpSpeaker;
  private cfg?: SpeakerConfig;
  private cfgJson = '';
  /** Changes since the last batch, in order. */
  private changed: BgpFibChange[] = [];
  private timer?: NodeJS.Timeout;
  private accepted = new Map<string, number>();
  private batch = { added: 0, changed: 0, withdrawn: 0 };

  constructor(private readonly opts: AgentBgpOptions) {}

  private event(e: Record<string, unknown> & { kind: BgpEvent['kind'] }): void {
    const ev = { type: 'bgp', at: (this.opts.now ?? Date.now)(), ...e } as BgpEvent;
    this.opts.onEvent?.(ev);
    if (this.opts.eventsFile) {
      try { appendFileSync(this.opts.eventsFile, JSON.stringify(ev) + '\n'); } catch { /* the state dir went away (twin teardown) */ }
    }
  }

  /** Start, reconfigure, replace or stop the speaker so it runs `cfg` (undefined = no BGP). */
  async configure(cfg: SpeakerConfig | undefined): Promise<void> {
    const json = cfg ? JSON.stringify(cfg) : '';
    if (json === this.cfgJson && (this.speaker !== undefined) === (cfg !== undefined)) return;
    if (cfg && this.speaker) {
      const done = this.speaker.reconfigure(cfg);
      if (done) {
        this.cfg = cfg;
        this.cfgJson = json;
        this.event({ kind: 'reconfigured', mode: 'in-place', ...done });
        return;
      }
    }
    const had = this.speaker !== undefined;
    await this.stop();
    if (!cfg) { if (had) this.event({ kind: 'reconfigured', mode: 'stopped' }); return; }
    if (had) this.event({ kind: 'reconfigured', mode: 'restart' });
    const sp = new BgpSpeaker(cfg);
    sp.on('bests', (cs) => {
      if (this.speaker !== sp) return; // a stopped speaker's last words
      const b = this.batch;
      for (const c of cs) {
        const best = c.best;
        if (!best) { b.withdrawn++; this.changed.push({ segment: c.segment, prefix: c.prefix }); continue; }
        if (!c.previous) b.added++; else b.changed++;
        this.changed.push({ segment: c.segment, prefix: c.prefix, route: fibRoute(c.segment, best) });
      }
      this.schedule();
    });
    sp.on('session', ({ address, from, to, reason }) => { if (this.speaker === sp) this.event({ kind: 'session', address, from, to, reason }); });
    this.speaker = sp;
    this.cfg = cfg;
    this.cfgJson = json;
    try {
      await sp.start();
    } catch (e) {
      await this.stop();
      throw new Error(`BGP speaker did not start: ${(e as Error).message}`);
    }
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.opts.batchMs ?? 50);
  }

  /** Hand the changes since the last batch to onRoutes now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const b = this.batch;
    if (b.added || b.changed || b.withdrawn) this.event({ kind: 'routes', ...b, total: this.total() });
    this.batch = { added: 0, changed: 0, withdrawn: 0 };
    const changes = this.changed;
    this.changed = [];
    this.opts.onRoutes(changes);
  }

  /** Best paths held by the running speaker, all segments. */
  private total(): number {
    let n = 0;
    for (const rib of this.speaker?.ribs.values() ?? []) n += rib.size;
    return n;
  }

  /** The current best paths, all segments (read from the speaker's RIBs: O(table), for full merges). */
  routes(): BgpFibRoute[] {
    const out: BgpFibRoute[] = [];
    for (const [segment, rib] of this.speaker?.ribs ?? []) for (const r of rib.bests()) out.push(fibRoute(segment, r));
    return out;
  }

  /** Record how many routes the merge installed per neighbour address, for the `accepted` counts. */
  setAccepted(accepted: ReadonlyMap<string, number>): void {
    this.accepted = new Map(accepted);
  }

  status(): BgpSummary | null {
    if (!this.speaker || !this.cfg) return null;
    return {
      asn: this.cfg.asn, routerId: this.cfg.routerId,
      neighbors: this.speaker.status().map((n) => ({
        address: n.address, asn: n.asn, segment: n.segment, state: n.state, reason: n.reason, received: n.received, accepted: this.accepted.get(n.address) ?? 0,
      })),
      routes: [...this.speaker.ribs.values()].reduce((n, rib) => n + rib.learned, 0),
    };
  }

  /** Stop the speaker (Cease to every peer) and withdraw its routes from the FIB at once. */
  async stop(): Promise<void> {
    const sp = this.speaker;
    this.speaker = undefined;
    this.cfg = undefined;
    this.cfgJson = '';
    if (!sp) return;
    sp.removeAllListeners('bests');
    // Everything the speaker held goes, read before stopping (the sessions' ends empty its RIBs).
    for (const [segment, rib] of sp.ribs) for (const r of rib.bests()) { this.changed.push({ segment, prefix: r.prefix }); this.batch.withdrawn++; }
    await sp.stop();
    this.accepted.clear();
    this.flush();
  }
}

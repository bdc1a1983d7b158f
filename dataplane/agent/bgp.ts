/**
 * The agent's BGP: runs the speaker (dataplane/bgp) configured from the bundle's `bgp` section and keeps
 * its best paths per segment for the route merge (fib.ts).
 *
 * Lifecycle: `{}` (no asn) = no speaker. A bundle whose BGP configuration differs from the running one
 * (compared as canonical JSON after defaults) stops the speaker — Cease / Administrative Shutdown to every
 * peer, its routes withdrawn from the FIB — and starts a new one; an unchanged configuration leaves the
 * sessions alone. In-place reconfiguration is not supported yet (the speaker has none).
 *
 * Best-path events come in bursts (one per prefix); they are coalesced: the first change arms a timer and
 * the whole table is handed to `onRoutes` {@link AgentBgpOptions.batchMs} later (default 50 ms), so a full
 * table costs one kernel batch and one map sync, not one per prefix.
 */
import { BgpSpeaker, parseSpeakerConfig, type SpeakerConfig, type State } from '../bgp/index.ts';
import type { Bundle } from '../bundle/schema.ts';
import type { BgpFibRoute } from './fib.ts';

export interface AgentBgpOptions {
  /** Called with the full best-path table after each batch of changes. */
  onRoutes: (routes: BgpFibRoute[]) => void;
  /** Coalescing window, ms (default 50). */
  batchMs?: number;
}

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

export class AgentBgp {
  private speaker?: BgpSpeaker;
  private cfg?: SpeakerConfig;
  private cfgJson = '';
  private readonly best = new Map<string, BgpFibRoute>();
  private timer?: NodeJS.Timeout;
  private accepted = new Map<string, number>();

  constructor(private readonly opts: AgentBgpOptions) {}

  /** Start, replace or stop the speaker so it runs `cfg` (undefined = no BGP). */
  async configure(cfg: SpeakerConfig | undefined): Promise<void> {
    const json = cfg ? JSON.stringify(cfg) : '';
    if (json === this.cfgJson && (this.speaker !== undefined) === (cfg !== undefined)) return;
    await this.stop();
    if (!cfg) return;
    const sp = new BgpSpeaker(cfg);
    sp.on('best', ({ segment, prefix, best }) => {
      if (this.speaker !== sp) return; // a stopped speaker's last words
      const k = `${segment}|${prefix}`;
      if (!best) this.best.delete(k);
      else this.best.set(k, { segment, prefix, nextHop: best.attrs.nextHop, peer: best.peer?.id, ibgp: best.peer?.ibgp ?? false });
      this.schedule();
    });
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

  /** Hand the current table to onRoutes now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.opts.onRoutes(this.routes());
  }

  /** The current best paths, all segments. */
  routes(): BgpFibRoute[] { return [...this.best.values()]; }

  /** Record what the merge installed, for the per-neighbour `accepted` counts. */
  setInstalled(installed: readonly { peer: string }[]): void {
    this.accepted = new Map();
    for (const r of installed) this.accepted.set(r.peer, (this.accepted.get(r.peer) ?? 0) + 1);
  }

  status(): BgpSummary | null {
    if (!this.speaker || !this.cfg) return null;
    return {
      asn: this.cfg.asn, routerId: this.cfg.routerId,
      neighbors: this.speaker.status().map((n) => ({
        address: n.address, asn: n.asn, segment: n.segment, state: n.state, reason: n.reason, received: n.received, accepted: this.accepted.get(n.address) ?? 0,
      })),
      routes: this.routes().filter((r) => r.peer !== undefined).length,
    };
  }

  /** Stop the speaker (Cease to every peer) and withdraw its routes from the FIB at once. */
  async stop(): Promise<void> {
    const sp = this.speaker;
    this.speaker = undefined;
    this.cfg = undefined;
    this.cfgJson = '';
    if (!sp) return;
    sp.removeAllListeners('best');
    await sp.stop();
    this.best.clear();
    this.accepted.clear();
    this.flush();
  }
}

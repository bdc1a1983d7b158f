/**
 * WAN optimisation in the agent (docs/wanopt.md): from the bundle's `wanopt` section it runs
 *  - the WAN-opt proxy (dataplane/wanopt/proxy.ts): nftables TPROXY catches the TCP packets of WAN-opt
 *    classes, which the LAN program hands to the stack marked `PT_LOCAL_MARK | class`, and the proxy
 *    carries each connection over a session to the peer edge's `sessionPort`;
 *  - the FEC relay (dataplane/wanopt/fec-relay.ts): a policy rule per FEC class routes the class's marked
 *    UDP packets into its TUN device; the relay sends them FEC-coded to the peer edge's `fecPort`.
 *
 * Both talk to the peer edge over the underlay, from the local WAN address of the path the steering engine
 * currently picks for (segment, site, class) — the first WAN-opt class for sessions — to the peer's WAN
 * address on that path. Sessions are keyed by (peer, path): when steering moves the class, new connections
 * open a session on the new path while existing ones finish on the old (as flows stay pinned in the overlay).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { Bundle, BundlePath } from '../bundle/schema.ts';
import { contains, parsePrefix } from '../net.ts';
import type { SteeringEntry } from '../steer/index.ts';
import { steeringPaths } from '../xdp/fib.ts';
import { LOCAL_MARK } from '../xdp/maps.ts';
import {
  ChunkStore, FecRelay, WanoptProxy, installInterception, removeInterception,
  type FecRelayStats, type InterceptOptions, type PeerTarget, type ProxyStats,
} from '../wanopt/index.ts';

/** What GET /status shows of WAN-opt; null fields when that part is not configured. */
export interface WanoptStatus {
  /** WAN-opt classes and FEC classes of the bundle. */
  classes: string[];
  fecClasses: string[];
  proxy: ProxyStats | null;
  fec: FecRelayStats | null;
  /** The last configuration error, if any (the rest of the bundle is applied regardless). */
  error: string | null;
}

/** Options of {@link AgentWanopt}. */
export interface AgentWanoptOptions {
  /** Memory bound of the chunk store, bytes (default 256 MiB). */
  storeBytes?: number;
}

/** First policy routing table of the FEC classes: table FEC_TABLE_BASE + class id. */
export const FEC_TABLE_BASE = 1780;

/** Transmit queue of a FEC class's TUN device, packets: what waits for the relay while it is busy. */
export const FEC_TUN_QUEUE = 4096;

function run(argv: string[]): void {
  try { execFileSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }); }
  catch (e) { throw new Error(`\`${argv.join(' ')}\` failed: ${String((e as { stderr?: Buffer }).stderr ?? (e as Error).message).trim()}`, { cause: e }); }
}
const quiet = (argv: string[]) => { try { run(argv); } catch { /* absent */ } };

/** The agent's WAN-opt proxy and FEC relay; `apply` is idempotent for an unchanged section. */
export class AgentWanopt {
  private bundle?: Bundle;
  private table: readonly SteeringEntry[] = [];
  private proxy?: WanoptProxy;
  private relay?: FecRelay;
  private intercept?: InterceptOptions;
  private fecRules: string[][] = [];
  private applied = '';
  private error: string | null = null;
  private readonly store: ChunkStore;

  constructor(opts: AgentWanoptOptions = {}) {
    this.store = new ChunkStore({ maxBytes: opts.storeBytes ?? 256 * 1024 * 1024 });
  }

  /** Configure from `bundle` (restarting proxy and relay only when the wanopt section changed). */
  async apply(bundle: Bundle): Promise<void> {
    this.bundle = bundle;
    const w = bundle.wanopt;
    const key = JSON.stringify(w);
    if (key === this.applied) return;
    await this.stop();
    this.applied = key;
    this.error = null;
    try {
      if (w.classes?.length && w.interceptPort && w.sessionPort) {
        this.proxy = new WanoptProxy({
          store: this.store, interceptPort: w.interceptPort, sessionPort: w.sessionPort,
          peerFor: (dst) => this.peerFor(dst.address, w.classes![0]!.appClass),
          // Only peer edges, from their WAN addresses: a session can make this edge connect anywhere.
          acceptFrom: (address) => this.bundle?.paths.some((p) => p.remoteAddress === address) ?? false,
        });
        this.proxy.on('warning', (e: Error) => { this.error = e.message; });
        await this.proxy.start();
        this.intercept = { port: w.interceptPort, rules: [{ marks: w.classes.map((c) => (LOCAL_MARK | c.classId) >>> 0) }] };
        installInterception(this.intercept);
      }
      if (w.fec?.length && w.fecPort) {
        const byId = new Map(w.fec.map((c) => [c.classId, c.appClass]));
        this.relay = await FecRelay.start({
          port: w.fecPort, classes: w.fec.map(({ classId, k, m, holdMs, interleave }) => ({ classId, k, m, holdMs, interleave })),
          peerFor: (dst, classId) => this.peerFor(dst, byId.get(classId) ?? 'default'),
          acceptFrom: (address) => this.bundle?.paths.some((p) => p.remoteAddress === address) ?? false,
        });
        for (const [classId, dev] of this.relay.devices()) {
          // A long queue: when the agent's event loop pauses (a busy host), the kernel keeps the class's
          // packets for the relay instead of dropping them (the default 500 is 0.1 s at 5000 packets/s).
          run(['ip', 'link', 'set', dev, 'up', 'txqueuelen', String(FEC_TUN_QUEUE)]);
          // Recovered packets enter from the device with remote sources: no reverse-path check there.
          try { writeFileSync(`/proc/sys/net/ipv4/conf/${dev}/rp_filter`, '0'); } catch { /* not fatal */ }
          const table = String(FEC_TABLE_BASE + classId);
          run(['ip', 'route', 'replace', 'default', 'dev', dev, 'table', table]);
          const rule = ['fwmark', `0x${((LOCAL_MARK | classId) >>> 0).toString(16)}`, 'lookup', table];
          quiet(['ip', 'rule', 'del', ...rule]);
          run(['ip', 'rule', 'add', ...rule]);
          this.fecRules.push(rule);
        }
      }
    } catch (e) {
      this.error = (e as Error).message;
      this.applied = ''; // retried with the next bundle
      await this.stop();
      throw e;
    }
  }

  /** The steering engine's current table (the paths sessions and FEC streams take). */
  steer(table: readonly SteeringEntry[]): void { this.table = table; }

  /**
   * The peer edge for an inner destination and class: the remote route's site (longest match over the
   * bundle's segments), then the steering engine's first path for (segment, site, class), else the
   * bundle's own order for the class's rule. Undefined when no remote route or path matches.
   */
  peerFor(dst: string, appClass: string): PeerTarget | undefined {
    const b = this.bundle;
    if (!b) return undefined;
    let best: { len: number; segment: string; site: string } | undefined;
    for (const seg of b.segments) {
      for (const r of seg.routes) {
        const p = parsePrefix(r.prefix);
        if (r.kind !== 'remote' || !p || p.family !== 4 || !contains(p, dst) || (best && best.len >= p.len)) continue;
        best = { len: p.len, segment: seg.name, site: r.via ?? r.site ?? '' };
      }
    }
    if (!best) return undefined;
    const paths = b.paths.filter((p) => p.peerSite === best!.site);
    const row = this.table.find((t) => t.segment === best!.segment && t.site === best!.site && t.appClass === appClass);
    const rule = b.rules.find((r) => r.segment === best!.segment && r.appClass === appClass) ?? b.rules.find((r) => r.segment === best!.segment && r.appClass === 'default');
    const id = row?.pathIds[0] ?? (rule && paths[0] ? steeringPaths(paths, paths[0].peerSiteId, rule.preferred, rule.strategy)[0] : undefined);
    const path: BundlePath | undefined = paths.find((p) => p.id === id) ?? paths[0];
    if (!path) return undefined;
    return { key: `${path.peerNode}@${path.id}`, address: path.remoteAddress, localAddress: path.localAddress };
  }

  status(): WanoptStatus | null {
    const w = this.bundle?.wanopt;
    if (!w || (!w.classes?.length && !w.fec?.length)) return null;
    return {
      classes: (w.classes ?? []).map((c) => c.appClass), fecClasses: (w.fec ?? []).map((c) => c.appClass),
      proxy: this.proxy?.stats() ?? null, fec: this.relay ? { ...this.relay.stats } : null, error: this.error,
    };
  }

  /** Remove interception and policy rules, stop proxy and relay (the chunk store is kept). */
  async stop(): Promise<void> {
    if (this.intercept) { removeInterception(this.intercept); this.intercept = undefined; }
    for (const r of this.fecRules.splice(0)) quiet(['ip', 'rule', 'del', ...r]);
    this.relay?.close();
    this.relay = undefined;
    const p = this.proxy;
    this.proxy = undefined;
    await p?.close();
    this.applied = '';
  }
}

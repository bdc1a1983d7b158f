/**
 * The runnable BGP speaker: one {@link Session} per configured neighbour over node:net TCP (dialing,
 * accepting, or both), one {@link Rib} per segment, import/export policy, Adj-RIB-Out per neighbour with
 * UPDATEs packed by shared attributes, route refresh both ways, and an event stream of best-path changes
 * for the agent to program the FIB from: `'bests'`, one array of {@link BestChange} per RIB operation (an
 * UPDATE's NLRI, a withdrawal, a session going down), and `'best'`, one event per prefix and segment (only
 * emitted while someone listens: a full table is a million of them).
 *
 * Example:
 * ```ts
 * const sp = new BgpSpeaker(parseSpeakerConfig(bundle.bgp, 'bundle.json'));
 * sp.on('best', (c) => fib.set(c.segment, c.prefix, c.best?.attrs.nextHop));
 * await sp.start();
 * ```
 */
import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import {
  AFI_IPV4, AFI_IPV6, SAFI_UNICAST, chunkPrefixes, encodeAttributes, forEachNlri4, prefix4Text, encodeRouteRefresh, encodeUpdate, nlriBudget,
  type Family, type PathAttributes, type UpdateMessage,
} from './codec/index.ts';
import { Session, systemClock, type Clock, type Connection, type Dialer, type State } from './fsm.ts';
import { Rib, bestPeerIdOf, exportAttributes, type BestChange, type PeerRef, type Route } from './rib.ts';
import { ACCEPT_ALL, CompiledPolicy, parseCommunity, parseLargeCommunity } from './policy.ts';
import type { NeighborConfig, SpeakerConfig } from './config.ts';

/** Per-neighbour status for displays: state, last reason, prefixes received/accepted/advertised. */
export interface NeighborStatus {
  address: string; asn: number; segment: string; state: State; reason: string;
  peerRouterId?: string; received: number; advertised: number;
}

export interface SpeakerEvents {
  best: [BestChange];
  /** The changes of one RIB operation, in order (the listener may keep the array). */
  bests: [BestChange[]];
  session: [{ address: string; from: State; to: State; reason: string }];
  log: [string];
}

/** Optional injections: the clock (tests) and a TCP factory (defaults to node:net). */
export interface SpeakerOptions { clock?: Clock }

const unmap = (a: string | undefined) => (a ?? '').replace(/^::ffff:(?=\d+\.)/, '');

/** Wraps a node:net socket as an FSM {@link Connection}. */
export function socketConnection(sock: net.Socket): Connection {
  let closed = false;
  return {
    localAddress: unmap(sock.localAddress),
    remoteAddress: unmap(sock.remoteAddress),
    write: (b) => { if (!closed && !sock.destroyed) sock.write(b); },
    close: () => {
      if (closed) return;
      closed = true;
      // end() flushes a NOTIFICATION written just before; destroy() makes sure the socket goes even if the peer stalls.
      sock.end();
      setTimeout(() => sock.destroy(), 1000).unref();
    },
    listen: (onData, onClose) => {
      // One chunk (≤ 64 KiB, up to ~16 000 prefixes) per event-loop turn: libuv reads up to 32 chunks per
      // poll, and a peer sending a full table at full speed then kept the loop in reads for seconds — timers
      // starved, no KEEPALIVE went out and a 3 s hold timer expired at the peer (issue 6). Pausing after each
      // chunk lets timers run before the next read.
      sock.on('data', (b: Buffer) => {
        onData(b);
        if (closed || sock.destroyed) return;
        sock.pause();
        setImmediate(() => { if (!closed && !sock.destroyed) sock.resume(); });
      });
      sock.on('close', onClose);
    },
  };
}

function tcpDialer(n: NeighborConfig): Dialer {
  return {
    dial: () => new Promise((resolve, reject) => {
      const sock = net.connect({ host: n.address, port: n.port, ...(n.localAddress ? { localAddress: n.localAddress } : {}) });
      sock.setNoDelay(true);
      const fail = (e: Error) => { sock.destroy(); reject(e); };
      sock.once('error', fail);
      sock.once('connect', () => { sock.off('error', fail); sock.on('error', () => {}); resolve(socketConnection(sock)); });
    }),
  };
}

class Neighbor {
  session: Session;
  ref: PeerRef;
  importPolicy: CompiledPolicy;
  exportPolicy: CompiledPolicy;
  /** Adj-RIB-Out: what we last advertised per prefix, as the encoded attribute bytes (hex) for cheap comparison. */
  adjOut = new Map<string, string>();
  pending = new Map<string, PathAttributes | null>();
  flushScheduled = false;
  families = new Set<number>();
  constructor(public cfg: NeighborConfig, speaker: BgpSpeaker, dialer: Dialer, clock: Clock) {
    this.ref = { id: cfg.address, asn: cfg.asn, routerId: '0.0.0.0', ibgp: cfg.asn === speaker.cfg.asn, rrClient: cfg.rrClient };
    this.importPolicy = cfg.import ? new CompiledPolicy(speaker.cfg.policies[cfg.import]!) : ACCEPT_ALL;
    this.exportPolicy = cfg.export ? new CompiledPolicy(speaker.cfg.policies[cfg.export]!) : ACCEPT_ALL;
    const families: Family[] = cfg.families.map((f) => ({ afi: f === 'ipv4' ? AFI_IPV4 : AFI_IPV6, safi: SAFI_UNICAST }));
    this.session = new Session({
      localAsn: speaker.cfg.asn, routerId: speaker.cfg.routerId, peerAsn: cfg.asn, holdTime: cfg.holdTime, keepaliveTime: cfg.keepaliveTime,
      connectRetryTime: cfg.connectRetryTime, idleHoldTime: cfg.idleHoldTime, passive: cfg.passive, families, rawNlri: true,
    }, dialer, clock, {
      stateChange: (from, to, reason) => speaker.emit('session', { address: cfg.address, from, to, reason }),
      established: (info) => {
        this.ref = { ...this.ref, routerId: info.peerRouterId };
        const theirs = info.open.capabilities.multiprotocol;
        this.families = new Set(families.filter((f) => (theirs.length ? theirs.some((t) => t.afi === f.afi && t.safi === f.safi) : f.afi === AFI_IPV4)).map((f) => f.afi));
        speaker.sendFullTable(this);
      },
      down: () => { this.adjOut.clear(); this.pending.clear(); speaker.ribOf(cfg.segment).dropPeer(cfg.address); },
      update: (m) => speaker.receive(this, m),
      routeRefresh: (afi) => {
        speaker.emit('log', `${cfg.address}: route refresh requested for AFI ${afi}`);
        if (afi === AFI_IPV4 || afi === AFI_IPV6) speaker.sendFullTable(this, afi);
      },
    });
  }
}

/**
 * A BGP-4 speaker. `start()` listens and starts every session; `stop()` sends Cease / Administrative
 * Shutdown to every peer and closes. Events: 'best' (best-path change), 'session' (state change), 'log'.
 */
export class BgpSpeaker extends EventEmitter<SpeakerEvents> {
  readonly ribs = new Map<string, Rib>();
  private neighbors = new Map<string, Neighbor>();
  private server: net.Server | undefined;
  private readonly clock: Clock;

  private started = false;

  constructor(public cfg: SpeakerConfig, opts: SpeakerOptions = {}) {
    super();
    this.clock = opts.clock ?? systemClock;
    for (const n of cfg.neighbors) this.neighbors.set(n.address, new Neighbor(n, this, tcpDialer(n), this.clock));
  }

  /**
   * Applies a new configuration without touching what did not change: neighbours that are gone get Cease
   * and their routes leave the RIB; new ones start; a neighbour whose session settings changed (AS, hold
   * time, addresses, segment, …) is restarted alone; one whose import policy changed (by name or content)
   * is asked for a ROUTE-REFRESH, one whose export policy changed gets its table re-evaluated (updates and
   * withdrawals as needed); networks are originated/withdrawn by difference. Returns what was done, or
   * undefined — changing nothing — when the AS, router id, cluster id or listener changed: those need a
   * new speaker. Example: `if (!sp.reconfigure(next)) { await sp.stop(); sp = new BgpSpeaker(next); }`
   */
  reconfigure(next: SpeakerConfig): { added: string[]; removed: string[]; restarted: string[]; refreshed: string[]; reexported: string[] } | undefined {
    const j = JSON.stringify;
    const old = this.cfg;
    if (old.asn !== next.asn || old.routerId !== next.routerId || old.clusterId !== next.clusterId || j(old.listen) !== j(next.listen)) return undefined;
    const done = { added: [] as string[], removed: [] as string[], restarted: [] as string[], refreshed: [] as string[], reexported: [] as string[] };
    const policyOf = (c: SpeakerConfig, name: string | undefined) => j(name === undefined ? null : c.policies[name]);
    const session = ({ import: _i, export: _e, ...rest }: NeighborConfig) => j(rest);
    this.cfg = next;
    const wanted = new Map(next.neighbors.map((n) => [n.address, n]));
    for (const [address, nb] of [...this.neighbors]) {
      const n = wanted.get(address);
      if (n && session(n) === session(nb.cfg)) continue;
      nb.session.stop();
      this.ribOf(nb.cfg.segment).dropPeer(address);
      this.neighbors.delete(address);
      (n ? done.restarted : done.removed).push(address);
    }
    for (const n of next.neighbors) {
      const nb = this.neighbors.get(n.address);
      if (!nb) {
        const fresh = new Neighbor(n, this, tcpDialer(n), this.clock);
        this.neighbors.set(n.address, fresh);
        if (this.started) fresh.session.start();
        if (!done.restarted.includes(n.address)) done.added.push(n.address);
        continue;
      }
      const importChanged = policyOf(old, nb.cfg.import) !== policyOf(next, n.import);
      const exportChanged = policyOf(old, nb.cfg.export) !== policyOf(next, n.export);
      nb.cfg = n;
      const up = nb.session.state === 'Established';
      if (importChanged) {
        nb.importPolicy = n.import ? new CompiledPolicy(next.policies[n.import]!) : ACCEPT_ALL;
        if (up) { for (const afi of nb.families) nb.session.send(encodeRouteRefresh(afi, SAFI_UNICAST)); done.refreshed.push(n.address); }
      }
      if (exportChanged) {
        nb.exportPolicy = n.export ? new CompiledPolicy(next.policies[n.export]!) : ACCEPT_ALL;
        if (up) { this.reexport(nb); done.reexported.push(n.address); }
      }
    }
    const key = (n: SpeakerConfig['networks'][number]) => `${n.segment}|${n.prefix}`;
    const before = new Map(old.networks.map((n) => [key(n), j(n)]));
    const after = new Set(next.networks.map(key));
    for (const n of old.networks) if (!after.has(key(n))) this.withdrawNetwork(n.prefix, n.segment);
    if (this.started) for (const n of next.networks) if (before.get(key(n)) !== j(n)) this.originate(n);
    this.emit('log', `reconfigured in place: ${j(done)}`);
    return done;
  }

  /** Re-runs export for every best path of the neighbour's segment: new or changed ones are sent, denied ones withdrawn. */
  private reexport(nb: Neighbor): void {
    const seen = new Set<string>();
    for (const r of this.ribOf(nb.cfg.segment).bests()) { seen.add(r.prefix); this.queueExport(nb, r.prefix, r); }
    for (const p of nb.adjOut.keys()) if (!seen.has(p)) this.queueExport(nb, p, undefined);
  }

  /** The segment's RIB, created on first use. */
  ribOf(segment: string): Rib {
    let rib = this.ribs.get(segment);
    if (!rib) {
      rib = new Rib(segment, undefined, { onChanges: (cs) => {
        if (this.listenerCount('best')) for (const c of cs) this.emit('best', c);
        this.emit('bests', cs);
        this.propagate(segment, cs);
      } });
      this.ribs.set(segment, rib);
    }
    return rib;
  }

  /** Listens (unless `listen.port` is 0), originates `networks` and starts every session. */
  async start(): Promise<void> {
    this.started = true;
    for (const n of this.cfg.networks) this.originate(n);
    if (this.cfg.listen.port !== 0) {
      this.server = net.createServer((sock) => {
        sock.setNoDelay(true);
        sock.on('error', () => {});
        const nb = this.neighbors.get(unmap(sock.remoteAddress));
        if (!nb) { this.emit('log', `refused connection from unknown ${unmap(sock.remoteAddress)}`); sock.destroy(); return; }
        nb.session.incoming(socketConnection(sock));
      });
      await new Promise<void>((resolve, reject) => {
        this.server!.once('error', reject);
        this.server!.listen({ port: this.cfg.listen.port, host: this.cfg.listen.address ?? '::' }, () => resolve());
      });
    }
    for (const nb of this.neighbors.values()) nb.session.start();
  }

  /** Cease / Administrative Shutdown to every peer, then close the listener. */
  async stop(): Promise<void> {
    for (const nb of this.neighbors.values()) nb.session.stop();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** Adds (or replaces) a locally originated route. */
  originate(n: SpeakerConfig['networks'][number]): void {
    const extra = 'communities' in n || 'largeCommunities' in n || 'med' in n || 'localPref' in n ? n as { communities?: string[]; largeCommunities?: string[]; med?: number; localPref?: number } : {};
    const attrs: PathAttributes = { origin: 0, asPath: [] };
    const std = [...(extra.communities ?? []), ...(extra.largeCommunities ?? [])].map(parseCommunity).filter((c): c is number => c !== undefined);
    const large = [...(extra.communities ?? []), ...(extra.largeCommunities ?? [])].map(parseLargeCommunity).filter((c): c is [number, number, number] => c !== undefined);
    if (std.length) attrs.communities = std;
    if (large.length) attrs.largeCommunities = large;
    if (extra.med !== undefined) attrs.med = extra.med;
    if (extra.localPref !== undefined) attrs.localPref = extra.localPref;
    this.ribOf(n.segment).update(undefined, n.prefix, attrs);
  }

  /**
   * Originates a route with arbitrary attributes (a test feeder, or routes the agent redistributes).
   * ORIGIN defaults to IGP and AS_PATH to empty; our AS is prepended on export to eBGP as usual.
   */
  originateRoute(prefix: string, attrs: PathAttributes, segment = 'default'): void {
    this.ribOf(segment).update(undefined, prefix, { origin: 0, asPath: [], ...attrs });
  }

  /** Withdraws a locally originated route. */
  withdrawNetwork(prefix: string, segment = 'default'): void { this.ribOf(segment).withdraw(undefined, prefix); }

  /** Asks a peer to resend its routes (RFC 2918) for each negotiated family. */
  refresh(address: string): void {
    const nb = this.neighbors.get(address);
    if (!nb || nb.session.state !== 'Established') throw new Error(`neighbour ${address} is not established`);
    for (const afi of nb.families) nb.session.send(encodeRouteRefresh(afi, SAFI_UNICAST));
  }

  /** Best routes of a segment. */
  routes(segment = 'default'): Route[] { return [...(this.ribs.get(segment)?.bests() ?? [])]; }

  status(): NeighborStatus[] {
    return [...this.neighbors.values()].map((nb) => ({
      address: nb.cfg.address, asn: nb.cfg.asn, segment: nb.cfg.segment, state: nb.session.state, reason: nb.session.lastReason,
      peerRouterId: nb.session.info?.peerRouterId, received: this.ribs.get(nb.cfg.segment)?.received(nb.cfg.address) ?? 0, advertised: nb.adjOut.size,
    }));
  }

  /** Applies one UPDATE from a neighbour: withdrawals, loop checks, import policy, Adj-RIB-In and Loc-RIB. */
  receive(nb: Neighbor, m: UpdateMessage): void {
    const rib = this.ribOf(nb.cfg.segment);
    for (const e of m.errors ?? []) this.emit('log', `${nb.cfg.address}: ${e.action}: ${e.reason}`);
    for (const p of m.withdrawn) rib.withdraw(nb.ref, p);
    if (m.withdrawnRaw?.length) rib.withdrawNlri4(nb.ref, m.withdrawnRaw);
    for (const p of m.attrs.mpUnreach?.withdrawn ?? []) rib.withdraw(nb.ref, p);
    const mp = m.attrs.mpReach;
    const raw = m.nlriRaw?.length ? m.nlriRaw : undefined;
    if (m.treatAsWithdraw) {
      for (const p of m.nlri) rib.withdraw(nb.ref, p);
      if (raw) rib.withdrawNlri4(nb.ref, raw);
      for (const p of mp?.nlri ?? []) rib.withdraw(nb.ref, p);
      return;
    }
    if (!m.nlri.length && !raw && !mp?.nlri.length) return;
    let attrs: PathAttributes = m.attrs;
    if (attrs.mpReach || attrs.mpUnreach || (!nb.ref.ibgp && attrs.localPref !== undefined)) {
      attrs = { ...attrs };
      delete attrs.mpReach; delete attrs.mpUnreach;
      if (!nb.ref.ibgp) delete attrs.localPref; // RFC 4271 §5.1.5: LOCAL_PREF from an external peer is ignored
    }
    const loop = nb.ref.ibgp
      ? attrs.originatorId === this.cfg.routerId || (attrs.clusterList ?? []).includes(this.cfg.clusterId ?? this.cfg.routerId)
      : (attrs.asPath ?? []).some((s) => s.asns.includes(this.cfg.asn));
    const accept = (prefix: string, a: PathAttributes) => {
      const out = loop ? undefined : nb.importPolicy.apply({ prefix, attrs: a }, this.cfg.asn);
      if (out) rib.update(nb.ref, prefix, out); else rib.withdraw(nb.ref, prefix);
    };
    for (const p of m.nlri) accept(p, attrs);
    if (raw) {
      // The full-table path: one loop over the NLRI bytes, no prefix text unless a policy needs it.
      if (loop) rib.withdrawNlri4(nb.ref, raw);
      else if (nb.importPolicy.acceptsAll) rib.updateNlri4(nb.ref, raw, attrs);
      else forEachNlri4(raw, (a, len) => accept(prefix4Text(a, len), attrs));
    }
    if (mp?.nlri.length && mp.nextHops[0]) {
      const a6: PathAttributes = { ...attrs, nextHop: mp.nextHops[0] };
      if (mp.nextHops[1]) a6.nextHopLinkLocal = mp.nextHops[1];
      delete a6.mpReach;
      for (const p of mp.nlri) accept(p, a6);
    }
  }

  /** Queues a segment's best-path changes to every other established neighbour of the segment. */
  private propagate(segment: string, cs: readonly BestChange[]): void {
    for (const nb of this.neighbors.values()) {
      if (nb.cfg.segment !== segment || nb.session.state !== 'Established') continue;
      for (const c of cs) {
        // A path from this very neighbour is never sent back; with nothing advertised or queued there is nothing to withdraw either.
        if (nb.adjOut.size === 0 && nb.pending.size === 0 && bestPeerIdOf(c) === nb.cfg.address) continue;
        this.queueExport(nb, c.prefix, c.best);
      }
    }
  }

  private queueExport(nb: Neighbor, prefix: string, best: Route | undefined): void {
    const afi = prefix.includes(':') ? AFI_IPV6 : AFI_IPV4;
    if (!nb.families.has(afi)) return;
    let attrs: PathAttributes | undefined;
    if (best) {
      const info = nb.session.info!;
      const v6Local = info.localAddress.includes(':') ? info.localAddress : undefined;
      const ex = exportAttributes(best, nb.ref, {
        localAsn: this.cfg.asn, routerId: this.cfg.routerId, clusterId: this.cfg.clusterId, nextHopSelf: nb.cfg.nextHopSelf,
        nextHop4: info.localAddress.includes(':') ? this.cfg.routerId : info.localAddress, nextHop6: nb.cfg.nextHop6 ?? v6Local,
      });
      attrs = ex && nb.exportPolicy.apply({ prefix, attrs: ex }, this.cfg.asn);
      if (attrs && afi === AFI_IPV6 && !attrs.nextHop?.includes(':')) attrs = undefined; // no IPv6 next hop to offer
    }
    if (!attrs && !nb.adjOut.has(prefix) && !nb.pending.has(prefix)) return;
    nb.pending.set(prefix, attrs ?? null);
    if (!nb.flushScheduled) { nb.flushScheduled = true; setImmediate(() => this.flush(nb)); }
  }

  /** Sends the whole Loc-RIB of the neighbour's segment (on Established and on ROUTE-REFRESH). */
  sendFullTable(nb: Neighbor, afi?: number): void {
    for (const p of [...nb.adjOut.keys()]) if (afi === undefined || (p.includes(':') ? AFI_IPV6 : AFI_IPV4) === afi) nb.adjOut.delete(p);
    for (const r of this.ribOf(nb.cfg.segment).bests()) if (afi === undefined || (r.prefix.includes(':') ? AFI_IPV6 : AFI_IPV4) === afi) this.queueExport(nb, r.prefix, r);
  }

  /** Packs pending changes into UPDATEs: withdrawals together, announcements grouped by identical attributes. */
  private flush(nb: Neighbor): void {
    nb.flushScheduled = false;
    if (nb.session.state !== 'Established') { nb.pending.clear(); return; }
    const ctx = nb.session.ctx;
    const withdraw4: string[] = [], withdraw6: string[] = [];
    const groups = new Map<string, { attrs: PathAttributes; v4: string[]; v6: string[] }>();
    for (const [prefix, attrs] of nb.pending) {
      const v6 = prefix.includes(':');
      if (!attrs) {
        if (nb.adjOut.delete(prefix)) (v6 ? withdraw6 : withdraw4).push(prefix);
        continue;
      }
      const key = Buffer.from(encodeAttributes(attrs, ctx)).toString('hex');
      if (nb.adjOut.get(prefix) === key) continue;
      nb.adjOut.set(prefix, key);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { attrs, v4: [], v6: [] }));
      (v6 ? g.v6 : g.v4).push(prefix);
    }
    nb.pending.clear();
    const budget = nlriBudget(0) - 64;
    for (const c of chunkPrefixes(withdraw4, budget)) nb.session.send(encodeUpdate({ withdrawn: c, nlri: [], attrs: {} }, ctx));
    for (const c of chunkPrefixes(withdraw6, budget - 8)) nb.session.send(encodeUpdate({ withdrawn: [], nlri: [], attrs: { mpUnreach: { afi: AFI_IPV6, safi: SAFI_UNICAST, withdrawn: c } } }, ctx));
    for (const g of groups.values()) {
      if (g.v4.length) {
        const room = nlriBudget(encodeAttributes(g.attrs, ctx).length);
        for (const c of chunkPrefixes(g.v4, room)) nb.session.send(encodeUpdate({ withdrawn: [], nlri: c, attrs: g.attrs }, ctx));
      }
      if (g.v6.length) {
        const base: PathAttributes = { ...g.attrs };
        const nh = base.nextHop!;
        delete base.nextHop;
        const room = nlriBudget(encodeAttributes(base, ctx).length) - 24;
        for (const c of chunkPrefixes(g.v6, room)) nb.session.send(encodeUpdate({ withdrawn: [], nlri: [], attrs: { ...base, mpReach: { afi: AFI_IPV6, safi: SAFI_UNICAST, nextHops: [nh], nlri: c } } }, ctx));
      }
    }
  }
}

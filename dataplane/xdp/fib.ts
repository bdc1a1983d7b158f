/**
 * Bundle → BPF map entries: pure functions that turn an edge's bundle (plus what only the running host
 * knows: interface indexes and MACs, resolved neighbours) into the keys and values of the maps in
 * bpf/include/patronus_shared.h, as Buffers ready for `BpfMap.update`. Nothing here touches the kernel.
 *
 * Mapping:
 * - `pt_config[0]` = {site: bundle.siteId, default_class: 0} (the compiler's built-in `default` class is 0);
 * - `pt_segments`: one entry per LAN interface (ifindex, VLAN) → segment id and the interface's first IPv4
 *   address (the source of ICMP errors);
 * - `pt_routes4` / `pt_routes6`: every segment route; remote routes carry the id of the site to send to
 *   (`via`, a hub when backhauled, else `site`);
 * - `pt_class_rules`: the classifier in priority order, one entry per (protocol family, port range, prefix)
 *   combination;
 * - `pt_paths`: every path whose next-hop MAC is known (others are listed in `unresolved`); an encrypted path
 *   (`wireguard`) once its WireGuard device is up (`wgDevice`), flagged wg and pointing at that device;
 * - `pt_steering`: per (segment, destination site, class) of every overlay/backhaul rule, the usable paths
 *   whose local transport the rule prefers, best first (preference: the best one; load-balance: up to 4;
 *   duplicate: two, on different transports where possible);
 * - `pt_lan_egress`: the first LAN interface of each segment (to the stack unless a static neighbour is given);
 * - `pt_rx`: only when `peerPathIds` is given, since the bundle numbers paths from this edge's side.
 *
 * @example
 *   const e = fibEntries(bundle, { ifindex: (n) => idx[n], mac: (n) => macs[n], neighbour: (a) => arp[a] });
 *   for (const { key, value } of e.maps.pt_routes4) obj.map('pt_routes4').update(key, value);
 */
import type { Bundle, BundlePath } from '../bundle/schema.ts';
import * as M from './maps.ts';

/** Facts of the running host that the bundle does not carry. */
export interface FibEnv {
  /** Interface index of a local interface (by bundle name). */
  ifindex(name: string): number;
  /** MAC address of a local interface, e.g. '02:00:00:00:01:01'. */
  mac(name: string): string;
  /** MAC of an underlay neighbour (a path's gateway, or its remote address when on-link); undefined if unresolved. */
  neighbour(address: string): string | undefined;
  /** Overlay UDP port (source and destination); default {@link M.OVERLAY_PORT_DEFAULT}. */
  port?: number;
  /** WAN interfaces with a shaper: their paths are served by the tc program. */
  shaped?: ReadonlySet<string>;
  /** The LAN neighbour MAC to send a segment's decapsulated packets to; undefined: the kernel forwards them. */
  lanNeighbour?(segment: string): string | undefined;
  /** The peer's id of each path (by this bundle's path id): fills the pt_rx whitelist. */
  peerPathIds?: ReadonlyMap<number, number>;
  /**
   * A global IPv6 address configured on a LAN interface (the bundle carries none): the source of the
   * ICMPv6 "packet too big" replies the LAN program sends on that segment. Undefined: none, and oversized
   * IPv6 packets are dropped and counted (reason tooBig) instead of answered.
   */
  ipv6?(name: string): string | undefined;
  /**
   * The WireGuard device of an encrypted path (bundle path with `wireguard`) when it is up; undefined: the
   * path is left out (listed unresolved). Its pt_paths entry has flag wg, the device's ifindex, the path MTU
   * and nothing else; it gets no pt_rx entry (nothing arrives on it with an overlay header).
   */
  wgDevice?(pathId: number): string | undefined;
}

/** One map entry. */
export interface MapEntry { key: Buffer; value: Buffer }

/** The entries of every map the bundle determines, plus what could not be programmed and why. */
export interface FibEntries {
  maps: Record<'pt_config' | 'pt_segments' | 'pt_routes4' | 'pt_routes6' | 'pt_class_rules' | 'pt_steering' | 'pt_paths' | 'pt_lan_egress' | 'pt_rx', MapEntry[]>;
  /** Path ids left out because their next hop has no MAC yet. */
  unresolved: number[];
  /** Human-readable notes (e.g. a rule with no usable path). */
  notes: string[];
}

/** A bundle this module cannot express in the maps (too many classifier entries, ...). */
export class FibError extends Error {
  override name = 'FibError';
}

const PROTO = { tcp: [[4, 6], [6, 6]], udp: [[4, 17], [6, 17]], icmp: [[4, 1], [6, 58]], any: [[0, 0]] } as const;
const ROLE_RANK = { active: 0, backup: 1, 'last-resort': 2 } as const;
const first = <T>(xs: readonly T[]): (T | undefined)[] => (xs.length ? [...xs] : [undefined]);

/** Classifier entries (pt_class_rules values in index order) of `bundle.classifier`. */
export function classRules(bundle: Bundle): Buffer[] {
  const out: Buffer[] = [];
  const rules = [...bundle.classifier].sort((a, b) => a.priority - b.priority);
  for (const r of rules) {
    const dscpMask = r.dscp.reduce((m, d) => m | (1n << BigInt(d)), 0n);
    for (const [family, proto] of PROTO[r.protocol]) {
      for (const sp of first(r.srcPorts)) for (const dp of first(r.dstPorts)) {
        for (const src of first(r.srcPrefixes)) for (const dst of first(r.dstPrefixes)) {
          const s = src ? M.parsePrefix(src) : undefined, d = dst ? M.parsePrefix(dst) : undefined;
          // A prefix fixes the family: skip the other family's copy of a protocol rule.
          const fam = s?.family ?? d?.family ?? family;
          if (family && fam !== family) continue;
          if (s && d && s.family !== d.family) continue;
          out.push(M.classRule.encode({
            flags: M.RULE_VALID, class_id: r.classId, proto, family: fam, src_plen: s?.plen ?? 0, dst_plen: d?.plen ?? 0,
            sport_lo: sp?.[0] ?? 0, sport_hi: sp?.[1] ?? 0, dport_lo: dp?.[0] ?? 0, dport_hi: dp?.[1] ?? 0,
            dscp_mask: dscpMask, src: s?.addr ?? Buffer.alloc(16), dst: d?.addr ?? Buffer.alloc(16),
          }));
        }
      }
    }
  }
  if (out.length > M.MAX_CLASS_RULES) {
    throw new FibError(`bundle ${bundle.node}: the classifier expands to ${out.length} entries, the programs hold ${M.MAX_CLASS_RULES}`);
  }
  return out;
}

/** Paths for one rule towards one site, best first, per the rule's strategy. */
export function steeringPaths(paths: BundlePath[], siteId: number, preferred: string[], strategy: 'preference' | 'best-quality' | 'load-balance' | 'duplicate'): number[] {
  const c = paths
    .filter((p) => p.peerSiteId === siteId && preferred.includes(p.transport))
    .sort((a, b) => preferred.indexOf(a.transport) - preferred.indexOf(b.transport) || ROLE_RANK[a.role] - ROLE_RANK[b.role] || a.id - b.id);
  // best-quality starts like preference: scores exist only once the probes have measured (steer/).
  if (strategy === 'preference' || strategy === 'best-quality') return c.slice(0, 1).map((p) => p.id);
  if (strategy === 'load-balance') return c.slice(0, M.STEER_MAX_PATHS).map((p) => p.id);
  const a = c[0];
  if (!a) return [];
  const b = c.find((p) => p.transport !== a.transport) ?? c[1];
  return b ? [a.id, b.id] : [a.id];
}

/**
 * Steering flags that hand a class to the edge's own stack (docs/wanopt.md): {@link M.SteerFlag.localTcp}
 * for WAN-opt classes (the proxy), {@link M.SteerFlag.localUdp} for FEC classes (the FEC relay). Keyed by
 * class id; classes without WAN-opt or FEC are absent. Example: `localServiceFlags(b).get(2)` → `0x4`.
 */
export function localServiceFlags(bundle: Bundle): Map<number, number> {
  const out = new Map<number, number>();
  for (const c of bundle.wanopt.classes ?? []) out.set(c.classId, (out.get(c.classId) ?? 0) | M.SteerFlag.localTcp);
  for (const c of bundle.wanopt.fec ?? []) out.set(c.classId, (out.get(c.classId) ?? 0) | M.SteerFlag.localUdp);
  return out;
}

/**
 * One overlay route's map entry: for pt_routes6 when the prefix is IPv6 (family 6), else pt_routes4.
 * `site` only matters for kind remote (default 0). Used by {@link fibEntries} and by the agent's
 * per-batch BGP route writes (dataplane/agent/overlay.ts applyRoutes).
 *
 * @example
 *   routeMapEntry(0, '20.0.1.0/24', 'internet')  // { family: 4, key: <pt_route_key4>, value: <pt_route_val> }
 */
export function routeMapEntry(segmentId: number, prefix: string, kind: M.RouteKindName, site = 0): MapEntry & { family: 4 | 6 } {
  const value = M.routeVal.encode({ kind: M.RouteKind[kind], flags: 0, site });
  if (prefix.includes(':')) return { family: 6, key: M.routeKey6.encode(M.routeKey6Of(segmentId, prefix)), value };
  return { family: 4, key: M.routeKey4.encode(M.routeKey4Of(segmentId, prefix)), value };
}

/** All map entries for `bundle` on a host described by `env`. */
export function fibEntries(bundle: Bundle, env: FibEnv): FibEntries {
  const port = env.port ?? M.OVERLAY_PORT_DEFAULT;
  const notes: string[] = [];
  const u16 = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };
  const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };
  const segId = new Map(bundle.segments.map((s) => [s.name, s.id]));
  const siteId = new Map<string, number>([[bundle.site, bundle.siteId], ...bundle.paths.map((p) => [p.peerSite, p.peerSiteId] as const)]);
  const maps: FibEntries['maps'] = {
    pt_config: [{ key: u32(0), value: M.config.encode({ site: bundle.siteId, default_class: 0, flags: 0 }) }],
    pt_segments: [], pt_routes4: [], pt_routes6: [], pt_class_rules: [], pt_steering: [], pt_paths: [], pt_lan_egress: [], pt_rx: [],
  };

  for (const lan of bundle.interfaces.lan) {
    const segment = segId.get(lan.segment);
    if (segment === undefined) { notes.push(`LAN ${lan.name}: segment ${lan.segment} has no id`); continue; }
    const addr4 = lan.ipv4[0]?.split('/')[0] ?? '0.0.0.0';
    maps.pt_segments.push({
      key: M.segKey.encode({ ifindex: env.ifindex(lan.name), vlan: lan.vlan ?? 0 }),
      value: M.segVal.encode({ segment, flags: 0, addr4, addr6: env.ipv6?.(lan.name) ?? '::' }),
    });
    if (!maps.pt_lan_egress.some((e) => e.key.readUInt16LE(0) === segment)) {
      const nb = env.lanNeighbour?.(lan.segment);
      maps.pt_lan_egress.push({
        key: u16(segment),
        value: M.lanEgress.encode({ ifindex: env.ifindex(lan.name), vlan: lan.vlan ?? 0, flags: nb ? M.LanFlag.staticNeigh : 0,
          smac: nb ? env.mac(lan.name) : '00:00:00:00:00:00', dmac: nb ?? '00:00:00:00:00:00' }),
      });
    }
  }

  for (const seg of bundle.segments) {
    for (const r of seg.routes) {
      const site = r.kind === 'remote' ? siteId.get(r.via ?? r.site ?? '') ?? r.siteId : 0;
      if (r.kind === 'remote' && site === undefined) { notes.push(`segment ${seg.name}: route ${r.prefix} names no known site`); continue; }
      const { family, ...entry } = routeMapEntry(seg.id, r.prefix, r.kind, site ?? 0);
      maps[family === 6 ? 'pt_routes6' : 'pt_routes4'].push(entry);
    }
  }

  maps.pt_class_rules = classRules(bundle).map((value, i) => ({ key: u32(i), value }));

  const unresolved: number[] = [];
  const usable: BundlePath[] = [];
  for (const p of bundle.paths) {
    if (p.wireguard) {
      const dev = env.wgDevice?.(p.id);
      if (!dev) { unresolved.push(p.id); continue; }
      usable.push(p);
      maps.pt_paths.push({
        key: u16(p.id),
        value: M.path.encode({ ifindex: env.ifindex(dev), saddr: '0.0.0.0', daddr: '0.0.0.0', sport: 0, dport: 0, mtu: p.mtu, flags: M.PathFlag.wg,
          smac: '00:00:00:00:00:00', dmac: '00:00:00:00:00:00' }),
      });
      continue;
    }
    const dmac = env.neighbour(p.gateway ?? p.remoteAddress);
    if (!dmac) { unresolved.push(p.id); continue; }
    usable.push(p);
    maps.pt_paths.push({
      key: u16(p.id),
      value: M.path.encode({
        ifindex: env.ifindex(p.localInterface), saddr: p.localAddress, daddr: p.remoteAddress, sport: port, dport: port,
        mtu: p.mtu, flags: env.shaped?.has(p.localInterface) ? M.PathFlag.shaped : 0, smac: env.mac(p.localInterface), dmac,
      }),
    });
    const peer = env.peerPathIds?.get(p.id);
    if (peer !== undefined) {
      maps.pt_rx.push({
        key: M.rxKey.encode({ site: p.peerSiteId, path: peer }),
        value: M.rxState.encode({ lock: { val: 0 }, flags: 0, first_seq: 0, highest_seq: 0, received: 0n, reordered: 0n, bytes: 0n }),
      });
    }
  }

  const local = localServiceFlags(bundle);
  const classOf = new Map<string, number>([['default', 0]]);
  for (const c of [...bundle.classifier].sort((a, b) => a.priority - b.priority)) if (!classOf.has(c.appClass)) classOf.set(c.appClass, c.classId);
  for (const rule of bundle.rules) {
    if (rule.service === 'direct-internet') continue;
    const segment = segId.get(rule.segment);
    const classId = classOf.get(rule.appClass);
    if (segment === undefined || classId === undefined) { notes.push(`rule ${rule.name}: unknown segment or class`); continue; }
    const sites = new Set<number>();
    for (const r of bundle.segments.find((s) => s.name === rule.segment)!.routes) {
      if (r.kind !== 'remote') continue;
      const s = siteId.get(r.via ?? r.site ?? '') ?? r.siteId;
      if (s !== undefined) sites.add(s);
    }
    for (const site of [...sites].sort((a, b) => a - b)) {
      const ids = steeringPaths(usable, site, rule.preferred, rule.strategy);
      if (!ids.length) { notes.push(`rule ${rule.name}: no usable path to site ${site}`); continue; }
      const key = M.steerKey.encode({ segment, site, class_id: classId });
      if (maps.pt_steering.some((e) => e.key.equals(key))) continue; // the first rule for a (segment, class) wins
      maps.pt_steering.push({
        key,
        value: M.steerVal.encode({
          paths: [...ids, 0, 0, 0, 0].slice(0, M.STEER_MAX_PATHS), n_paths: ids.length, n_all: ids.length,
          flags: (rule.strategy === 'duplicate' && ids.length > 1 ? M.SteerFlag.duplicate : 0) | (rule.perPacket ? M.SteerFlag.perPacket : 0) | (local.get(classId) ?? 0),
        }),
      });
    }
  }
  return { maps, unresolved, notes };
}

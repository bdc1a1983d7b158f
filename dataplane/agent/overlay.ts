/**
 * The agent's overlay data plane: loads the LAN and WAN ingress programs (XDP build, or the tc build whose
 * redirects traverse qdiscs), pins their maps by name under the agent's bpffs directory so forwarding
 * survives an agent restart, programs the maps from the bundle (dataplane/xdp/fib.ts) and attaches the
 * programs to the bundle's LAN and WAN interfaces.
 *
 * Updates never open a forwarding gap: every wanted entry is written in place first, then the entries
 * the new bundle no longer has are deleted. Per-path receive state (pt_rx) is kept across updates.
 * Paths whose next hop has no MAC yet are programmed once the neighbour resolves (the probes resolve it);
 * call {@link Overlay.refresh} periodically.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle, BundleRoute } from '../bundle/schema.ts';
import { packageRoot } from '../paths.ts';
import type { SteeringEntry } from '../steer/index.ts';
import { fibEntries, localServiceFlags, routeMapEntry, type FibEntries } from '../xdp/fib.ts';
import { BpfObject, ensureBpffs, perCpuMap, type BpfMap } from '../xdp/index.ts';
import * as M from '../xdp/maps.ts';

export type Datapath = 'xdp' | 'tc';

export interface OverlayOptions {
  /** bpffs directory for this agent's pinned maps, e.g. /sys/fs/bpf/patronus/<lab>/<node>. */
  pinDir: string;
  datapath: Datapath;
  /** Where the compiled objects are; default <package>/bpf/build. */
  objDir?: string;
  /** The WireGuard device of an encrypted path when it is up (agent/wg.ts); absent: no encrypted paths. */
  wgDevice?: (pathId: number) => string | undefined;
}

export interface OverlayStatus {
  datapath: Datapath;
  attached: string[];
  programmedPaths: number[];
  unresolvedPaths: number[];
  notes: string[];
  /** Packets per path and direction from the per-CPU counters. */
  counters: { path: number; classId: number; dir: 'tx' | 'rx'; packets: number; bytes: number }[];
  drops: Record<string, number>;
  /** Map entries the last programming wrote and deleted; `incremental` when only differences were written. */
  writes: { updated: number; deleted: number; incremental: boolean };
}

interface LinkInfo { ifname: string; ifindex: number; address: string; addr_info?: { family?: string; scope?: string; local?: string; tentative?: boolean }[] }

const BPF_MAP_TYPE_ARRAY = 2;

/** WAN interfaces the bundle shapes (dataplane/agent/qos.ts installs their HTB). */
const shapedInterfaces = (bundle: Bundle) => new Set(bundle.interfaces.wan.filter((w) => w.shape).map((w) => w.name));

const PROGRAMMED_MAPS = ['pt_config', 'pt_segments', 'pt_routes4', 'pt_routes6', 'pt_class_rules', 'pt_steering', 'pt_paths', 'pt_lan_egress', 'pt_rx'] as const;

export class Overlay {
  private lan?: BpfObject;
  /** XDP data path only: the tc LAN program serving shaped paths. */
  private lanTc?: BpfObject;
  private wan?: BpfObject;
  private bundle?: Bundle;
  /** After {@link applyRoutes}: the whole bundle with its overlay routes, built only when a full programming needs it. */
  private lazyBundle?: () => Bundle;
  private attached = new Set<string>();
  private last?: FibEntries;
  /** Per map: the entries this agent last wrote (hex key → value), the base of incremental syncs. */
  private written = new Map<string, Map<string, Buffer>>();
  /** pt_steering values last written by steer(), by key (hex): a re-program keeps them (see program()). */
  private steered = new Map<string, Buffer>();
  /** Map writes of the last programming: entries updated and deleted, and whether it was incremental. */
  private writes = { updated: 0, deleted: 0, incremental: false };

  constructor(private readonly opts: OverlayOptions) {}

  /** Open and load both objects (maps pinned under pinDir, reused if an earlier agent pinned them). */
  load(): void {
    ensureBpffs();
    mkdirSync(this.opts.pinDir, { recursive: true });
    const dir = this.opts.objDir ?? join(packageRoot(), 'bpf', 'build');
    const progs = this.opts.datapath === 'xdp' ? [M.PROGRAMS.lanXdp, M.PROGRAMS.wanXdp] : [M.PROGRAMS.lanTc, M.PROGRAMS.wanTc];
    this.lan = BpfObject.open(join(dir, progs[0]!.object), { pinRoot: this.opts.pinDir });
    this.wan = BpfObject.open(join(dir, progs[1]!.object), { pinRoot: this.opts.pinDir });
    this.lan.load();
    this.wan.load();
  }

  private map(name: string): BpfMap {
    return this.lan!.map(name);
  }

  /**
   * Program the maps for `bundle` and attach to its interfaces. With `incremental` (a BGP batch: same
   * bundle, other routes) each map gets only the entries that differ from what this agent last wrote
   * there; otherwise every entry is written and the map walked for leftovers (a new bundle, or maps
   * pinned by an earlier agent).
   */
  apply(bundle: Bundle, opts: { incremental?: boolean } = {}): void {
    // Steered rows survive a new bundle only while (segment, class) ids mean the same thing.
    const ids = (b?: Bundle) => JSON.stringify(b && [b.segments.map((s) => [s.name, s.id]), b.classifier.map((c) => [c.appClass, c.classId])]);
    if (ids(bundle) !== ids(this.bundle)) this.steered.clear();
    this.lazyBundle = undefined;
    this.bundle = bundle;
    this.program(opts.incremental ?? false);
    const progs = this.opts.datapath === 'xdp' ? [M.PROGRAMS.lanXdp, M.PROGRAMS.wanXdp] : [M.PROGRAMS.lanTc, M.PROGRAMS.wanTc];
    const attach = (obj: BpfObject, prog: string, ifname: string) => {
      if (this.attached.has(ifname)) return;
      if (this.opts.datapath === 'xdp') obj.program(prog).attachXdp(ifname, { mode: 'native' });
      else obj.program(prog).attachTc(ifname, { direction: 'ingress', replace: true });
      this.attached.add(ifname);
    };
    for (const l of bundle.interfaces.lan) attach(this.lan!, progs[0]!.program, l.name);
    for (const w of bundle.interfaces.wan) attach(this.wan!, progs[1]!.program, w.name);
    // XDP passes packets of shaped paths up; the tc build behind it sends them through the WAN qdisc.
    // It also passes WAN-opt / FEC classes up, which the tc build marks for nftables (docs/wanopt.md),
    // and packets of encrypted paths, which only tc can redirect into a WireGuard device.
    if (this.opts.datapath === 'xdp' && (shapedInterfaces(bundle).size || localServiceFlags(bundle).size || bundle.paths.some((p) => p.wireguard))) {
      this.lanTc ??= this.openLoaded(M.PROGRAMS.lanTc.object);
      for (const l of bundle.interfaces.lan) {
        if (this.attached.has(`${l.name}/tc`)) continue;
        this.lanTc.program(M.PROGRAMS.lanTc.program).attachTc(l.name, { direction: 'ingress', replace: true });
        this.attached.add(`${l.name}/tc`);
      }
    }
  }

  private openLoaded(object: string): BpfObject {
    const o = BpfObject.open(join(this.opts.objDir ?? join(packageRoot(), 'bpf', 'build'), object), { pinRoot: this.opts.pinDir });
    o.load();
    return o;
  }

  /** Re-program with fresh neighbour MACs (paths whose next hop just resolved become usable). */
  refresh(): void {
    if (this.bundle && this.last?.unresolved.length) this.program(false);
  }

  /**
   * Re-plan every map and write only what changed (an encrypted path moved into its key rotation's new
   * WireGuard device: one `pt_paths` write, so no packet finds the path without a device).
   */
  reprogram(): void {
    if (this.bundle) this.program(true);
  }

  private program(incremental: boolean): void {
    if (this.lazyBundle) { this.bundle = this.lazyBundle(); this.lazyBundle = undefined; }
    const bundle = this.bundle!;
    // One dump gives each link's index, MAC and addresses.
    const links = new Map((JSON.parse(execFileSync('ip', ['-j', 'addr', 'show']).toString()) as LinkInfo[]).map((l) => [l.ifname, l]));
    const neigh = new Map<string, string>();
    for (const n of JSON.parse(execFileSync('ip', ['-j', 'neigh', 'show']).toString()) as { dst: string; lladdr?: string; state?: string[] }[]) {
      if (n.lladdr && !n.state?.includes('FAILED') && !n.state?.includes('INCOMPLETE')) neigh.set(n.dst, n.lladdr);
    }
    const link = (name: string) => {
      const l = links.get(name);
      if (!l) throw new Error(`interface ${name} named by the bundle does not exist`);
      return l;
    };
    const peerPathIds = new Map(bundle.paths.filter((p) => p.peerPathId !== undefined).map((p) => [p.id, p.peerPathId!]));
    // The bundle carries no IPv6 LAN address; a global one configured on the interface sources ICMPv6 too-big.
    const v6 = (name: string) => links.get(name)?.addr_info?.find((a) => a.family === 'inet6' && a.scope === 'global' && a.local && !a.tentative)?.local;
    const e = fibEntries(bundle, {
      ifindex: (n) => link(n).ifindex, mac: (n) => link(n).address, neighbour: (a) => neigh.get(a), peerPathIds,
      shaped: shapedInterfaces(bundle), ipv6: v6, ...(this.opts.wgDevice && { wgDevice: this.opts.wgDevice }),
    });
    // The bundle's steering rows are only a starting point: where the path supervisor has already steered
    // a row (and its paths are still programmed) keep that value, or a re-program would briefly narrow the
    // row to the bundle's first path and re-pin running flows that were allowed to stay where they are.
    const programmed = new Set(e.maps.pt_paths.map((x) => x.key.readUInt16LE(0)));
    e.maps.pt_steering = e.maps.pt_steering.map((x) => {
      const v = this.steered.get(x.key.toString('hex'));
      if (!v) return x;
      const s = M.steerVal.decode(v);
      const n = Math.max(s.n_paths, s.n_all);
      return s.paths.slice(0, n).every((id) => programmed.has(id)) ? { key: x.key, value: v } : x;
    });
    this.writes = { updated: 0, deleted: 0, incremental };
    for (const name of PROGRAMMED_MAPS) this.sync(name, e.maps[name], name === 'pt_rx', incremental);
    this.last = e;
  }

  /**
   * Write a BGP batch's overlay route changes (fib.ts FibDelta.overlay) into pt_routes4 / pt_routes6 and
   * touch nothing else: removes first, then upserts, each only where it differs from what this agent last
   * wrote. A BGP batch changes no other map, and re-planning every map for it cost ~1–2 s per batch at the
   * 60 000-route overlay limit. `bundle` returns the whole bundle with the merge's overlay routes; it is
   * called only when a later full programming (refresh) needs it. Returns false, writing nothing, when the
   * route maps have no recorded state (not programmed by {@link apply} yet, or the last sync failed): call
   * apply instead.
   *
   * @example
   *   if (!overlay.applyRoutes(d.overlay, () => withOverlayRoutes(bundle, fib.overlay()))) overlay.apply(...);
   */
  applyRoutes(changes: { upsert: readonly { segment: string; route: BundleRoute }[]; remove: readonly { segment: string; route: BundleRoute }[] }, bundle: () => Bundle): boolean {
    const base = this.bundle;
    const w4 = this.written.get('pt_routes4'), w6 = this.written.get('pt_routes6');
    if (!base || !w4 || !w6) return false;
    const segId = new Map(base.segments.map((s) => [s.name, s.id] as const));
    this.writes = { updated: 0, deleted: 0, incremental: true };
    this.lazyBundle = bundle;
    try {
      for (const { segment, route } of changes.remove) {
        const id = segId.get(segment);
        if (id === undefined) continue;
        const { family, key } = routeMapEntry(id, route.prefix, route.kind);
        const w = family === 6 ? w6 : w4, hex = key.toString('hex');
        if (!w.has(hex)) continue;
        this.map(family === 6 ? 'pt_routes6' : 'pt_routes4').delete(key);
        w.delete(hex);
        this.writes.deleted++;
      }
      for (const { segment, route } of changes.upsert) {
        const id = segId.get(segment);
        if (id === undefined) continue;
        const { family, key, value } = routeMapEntry(id, route.prefix, route.kind);
        const w = family === 6 ? w6 : w4, hex = key.toString('hex');
        if (w.get(hex)?.equals(value)) continue;
        this.map(family === 6 ? 'pt_routes6' : 'pt_routes4').update(key, value);
        w.set(hex, value);
        this.writes.updated++;
      }
    } catch (e) {
      // What the maps hold is unknown now: the next programming walks them in full.
      this.written.delete('pt_routes4');
      this.written.delete('pt_routes6');
      throw e;
    }
    return true;
  }

  /**
   * Write every wanted entry, then delete the rest; `keep` leaves existing values (receive state) alone.
   * `incremental`: only entries new or changed since this agent's last write of the map, and deletes of
   * those it wrote and no longer wants (falls back to the full walk when nothing was recorded).
   */
  private sync(name: string, entries: { key: Buffer; value: Buffer }[], keep: boolean, incremental: boolean): void {
    const map = this.map(name);
    const prev = incremental ? this.written.get(name) : undefined;
    // Unknown until this sync completes: a throw below leaves the next sync a full one.
    this.written.delete(name);
    const want = new Map(entries.map((x) => [x.key.toString('hex'), x.value] as const));
    const isArray = map.type === BPF_MAP_TYPE_ARRAY;
    // Array maps cannot lose elements: an unused slot is zeroed (for the classifier: not valid).
    const drop = (k: Buffer) => { if (isArray) map.update(k, Buffer.alloc(map.valueSize)); else map.delete(k); this.writes.deleted++; };
    if (prev) {
      for (const { key, value } of entries) {
        const old = prev.get(key.toString('hex'));
        if (old && (keep || old.equals(value))) continue;
        if (keep && map.lookup(key)) continue;
        map.update(key, value);
        this.writes.updated++;
      }
      for (const k of prev.keys()) if (!want.has(k)) drop(Buffer.from(k, 'hex'));
    } else {
      for (const { key, value } of entries) {
        if (keep && map.lookup(key)) continue;
        map.update(key, value);
        this.writes.updated++;
      }
      for (const k of map.keys()) if (!want.has(k.toString('hex'))) drop(k);
    }
    this.written.set(name, want);
  }

  /** Point (segment, site, class) steering entries at the paths the steering engine chose. */
  steer(table: readonly SteeringEntry[]): void {
    const b = this.bundle;
    if (!b || !this.last) return;
    const programmed = new Set(this.programmedPaths());
    const segId = new Map(b.segments.map((s) => [s.name, s.id]));
    const siteId = new Map(b.paths.map((p) => [p.peerSite, p.peerSiteId]));
    const classId = new Map<string, number>([['default', 0], ...b.classifier.map((c) => [c.appClass, c.classId] as const)]);
    const steering = this.map('pt_steering');
    const local = localServiceFlags(b);
    for (const row of table) {
      const seg = segId.get(row.segment), site = siteId.get(row.site), cls = classId.get(row.appClass);
      if (seg === undefined || site === undefined || cls === undefined) continue;
      const ids = row.pathIds.filter((id) => programmed.has(id)).slice(0, M.STEER_MAX_PATHS);
      if (!ids.length) continue; // keep what the map has rather than black-holing (the bundle's order)
      // Existing flows may stay on a path that still complies (row.keep); new flows take ids only.
      const keepers = row.keep.filter((id) => programmed.has(id) && !ids.includes(id)).slice(0, M.STEER_MAX_PATHS - ids.length);
      const rule = b.rules.find((r) => r.segment === row.segment && r.appClass === row.appClass);
      const key = M.steerKey.encode({ segment: seg, site, class_id: cls });
      const value = M.steerVal.encode({
        paths: [...ids, ...keepers, 0, 0, 0, 0].slice(0, M.STEER_MAX_PATHS), n_paths: ids.length, n_all: ids.length + keepers.length,
        flags: (row.mode === 'duplicate' && ids.length > 1 ? M.SteerFlag.duplicate : 0) | (rule?.perPacket ? M.SteerFlag.perPacket : 0) | (local.get(cls) ?? 0),
      });
      steering.update(key, value);
      this.steered.set(key.toString('hex'), value);
    }
  }

  private programmedPaths(): number[] {
    return (this.last?.maps.pt_paths ?? []).map((e) => e.key.readUInt16LE(0));
  }

  /**
   * Receive counters (pt_rx) of the data a peer sends on its path `peerPathId` from underlay `address`,
   * cumulative and truncated to u32 for the probe echo; undefined when no bundle path matches.
   * Example: `overlay.rxCounters('192.0.2.1', 3)` → `{received: 1200, lost: 4, reordered: 0}`.
   */
  rxCounters(address: string, peerPathId: number): { received: number; lost: number; reordered: number } | undefined {
    const p = this.bundle?.paths.find((x) => x.remoteAddress === address && x.peerPathId === peerPathId);
    if (!p || !this.lan) return undefined;
    const v = this.map('pt_rx').lookup(M.rxKey.encode({ site: p.peerSiteId, path: peerPathId }));
    if (!v) return undefined;
    const st = M.rxState.decode(v);
    return { received: Number(BigInt.asUintN(32, st.received)), lost: Number(BigInt.asUintN(32, M.rxLoss(st))), reordered: Number(BigInt.asUintN(32, st.reordered)) };
  }

  status(): OverlayStatus {
    const counters: OverlayStatus['counters'] = [];
    const drops: Record<string, number> = {};
    if (this.lan) {
      const c = perCpuMap(this.map('pt_counters'), M.counterKey, M.counter);
      for (const [k, v] of c.entries()) {
        const s = M.sumCounters(v);
        counters.push({ path: k.path, classId: k.class_id, dir: k.dir === M.Dir.tx ? 'tx' : 'rx', packets: Number(s.packets), bytes: Number(s.bytes) });
      }
      const d = perCpuMap(this.map('pt_drops'), M.MAPS.pt_drops.key, M.counter);
      const names = Object.fromEntries(Object.entries(M.DropReason).map(([n, v]) => [v, n]));
      for (const [k, v] of d.entries()) {
        const n = Number(M.sumCounters(v).packets);
        if (n) drops[names[k as number] ?? String(k)] = n;
      }
    }
    return {
      datapath: this.opts.datapath, attached: [...this.attached].sort(), programmedPaths: this.programmedPaths(),
      unresolvedPaths: this.last?.unresolved ?? [], notes: this.last?.notes ?? [], counters, drops, writes: { ...this.writes },
    };
  }

  /** Close the objects; programs stay attached and maps stay pinned, so forwarding continues. */
  close(): void {
    this.lan?.close();
    this.lanTc?.close();
    this.wan?.close();
  }
}

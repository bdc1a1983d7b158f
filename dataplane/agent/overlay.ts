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
import type { Bundle } from '../bundle/schema.ts';
import { packageRoot } from '../paths.ts';
import type { SteeringEntry } from '../steer/index.ts';
import { fibEntries, type FibEntries } from '../xdp/fib.ts';
import { BpfObject, ensureBpffs, perCpuMap, type BpfMap } from '../xdp/index.ts';
import * as M from '../xdp/maps.ts';

export type Datapath = 'xdp' | 'tc';

export interface OverlayOptions {
  /** bpffs directory for this agent's pinned maps, e.g. /sys/fs/bpf/patronus/<lab>/<node>. */
  pinDir: string;
  datapath: Datapath;
  /** Where the compiled objects are; default <package>/bpf/build. */
  objDir?: string;
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
}

interface LinkInfo { ifname: string; ifindex: number; address: string }

const BPF_MAP_TYPE_ARRAY = 2;

const PROGRAMMED_MAPS = ['pt_config', 'pt_segments', 'pt_routes4', 'pt_routes6', 'pt_class_rules', 'pt_steering', 'pt_paths', 'pt_lan_egress', 'pt_rx'] as const;

export class Overlay {
  private lan?: BpfObject;
  private wan?: BpfObject;
  private bundle?: Bundle;
  private attached = new Set<string>();
  private last?: FibEntries;

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

  /** Program the maps for `bundle` and attach to its interfaces. */
  apply(bundle: Bundle): void {
    this.bundle = bundle;
    this.program();
    const progs = this.opts.datapath === 'xdp' ? [M.PROGRAMS.lanXdp, M.PROGRAMS.wanXdp] : [M.PROGRAMS.lanTc, M.PROGRAMS.wanTc];
    const attach = (obj: BpfObject, prog: string, ifname: string) => {
      if (this.attached.has(ifname)) return;
      if (this.opts.datapath === 'xdp') obj.program(prog).attachXdp(ifname, { mode: 'native' });
      else obj.program(prog).attachTc(ifname, { direction: 'ingress', replace: true });
      this.attached.add(ifname);
    };
    for (const l of bundle.interfaces.lan) attach(this.lan!, progs[0]!.program, l.name);
    for (const w of bundle.interfaces.wan) attach(this.wan!, progs[1]!.program, w.name);
  }

  /** Re-program with fresh neighbour MACs (paths whose next hop just resolved become usable). */
  refresh(): void {
    if (this.bundle && this.last?.unresolved.length) this.program();
  }

  private program(): void {
    const bundle = this.bundle!;
    const links = new Map((JSON.parse(execFileSync('ip', ['-j', 'link', 'show']).toString()) as LinkInfo[]).map((l) => [l.ifname, l]));
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
    const e = fibEntries(bundle, {
      ifindex: (n) => link(n).ifindex, mac: (n) => link(n).address, neighbour: (a) => neigh.get(a), peerPathIds,
    });
    for (const name of PROGRAMMED_MAPS) this.sync(this.map(name), e.maps[name], name === 'pt_rx');
    this.last = e;
  }

  /** Write every wanted entry, then delete the rest; `keep` leaves existing values (receive state) alone. */
  private sync(map: BpfMap, entries: { key: Buffer; value: Buffer }[], keep: boolean): void {
    const want = new Set(entries.map((x) => x.key.toString('hex')));
    for (const { key, value } of entries) {
      if (keep && map.lookup(key)) continue;
      map.update(key, value);
    }
    // Array maps cannot lose elements: an unused slot is zeroed (for the classifier: not valid).
    const isArray = map.type === BPF_MAP_TYPE_ARRAY;
    for (const k of map.keys()) {
      if (want.has(k.toString('hex'))) continue;
      if (isArray) map.update(k, Buffer.alloc(map.valueSize));
      else map.delete(k);
    }
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
    for (const row of table) {
      const seg = segId.get(row.segment), site = siteId.get(row.site), cls = classId.get(row.appClass);
      if (seg === undefined || site === undefined || cls === undefined) continue;
      const ids = row.pathIds.filter((id) => programmed.has(id)).slice(0, M.STEER_MAX_PATHS);
      if (!ids.length) continue; // keep what the map has rather than black-holing (the bundle's order)
      const rule = b.rules.find((r) => r.segment === row.segment && r.appClass === row.appClass);
      steering.update(M.steerKey.encode({ segment: seg, site, class_id: cls }), M.steerVal.encode({
        paths: [...ids, 0, 0, 0, 0].slice(0, M.STEER_MAX_PATHS), n_paths: ids.length,
        flags: (row.mode === 'duplicate' && ids.length > 1 ? M.SteerFlag.duplicate : 0) | (rule?.perPacket ? M.SteerFlag.perPacket : 0),
      }));
    }
  }

  private programmedPaths(): number[] {
    return (this.last?.maps.pt_paths ?? []).map((e) => e.key.readUInt16LE(0));
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
      unresolvedPaths: this.last?.unresolved ?? [], notes: this.last?.notes ?? [], counters, drops,
    };
  }

  /** Close the objects; programs stay attached and maps stay pinned, so forwarding continues. */
  close(): void {
    this.lan?.close();
    this.wan?.close();
  }
}

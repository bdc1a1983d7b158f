/**
 * Kernel FIB programming from a bundle. Until the XDP overlay data plane lands, the agent forwards
 * remote-site traffic natively over an on-link path (a private underlay whose peers share a subnet, such
 * as an MPLS L2/L3VPN) and installs underlay host routes to every peer reached through a gateway (routed
 * underlays), which probes and the overlay use. Routes that need the overlay are reported, not faked.
 *
 * Every route carries protocol number {@link RTPROT_PATRONUS} so the agent can find its own routes and
 * replace them in place (`ip route replace`), deleting only those no longer wanted: no forwarding gap on
 * updates and nothing touched that the agent did not write. IPv4 and IPv6 routes share one batch (`ip`
 * takes the family from the destination); the full read lists both families.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import type { Bundle, BundlePath } from '../bundle/schema.ts';

const execFileP = promisify(execFile);

/** Route protocol number marking the agent's routes (unassigned in iproute2's rt_protos). */
export const RTPROT_PATRONUS = 250;

/** Segments beyond the first get their own routing table: 1000 + segment id. */
export const segmentTable = (id: number) => 1000 + id;

export interface KernelRoute {
  /** Destination prefix, IPv4 or IPv6 ("default" is written 0.0.0.0/0). */
  dst: string;
  /** Next hop; absent for blackholes. An IPv6 link-local next hop ("fe80::1") needs `dev`. */
  via?: string;
  dev?: string;
  blackhole?: boolean;
  table: number | 'main';
}

export interface RoutePlan {
  routes: KernelRoute[];
  /** ip rules steering a LAN interface into its segment's table. */
  rules: { iif: string; table: number }[];
  /** Routes the kernel fallback cannot carry, with the reason. */
  skipped: { segment: string; prefix: string; reason: string }[];
}

const ROLE_ORDER = { active: 0, backup: 1, 'last-resort': 2 } as const;

/** Path choice for native forwarding: on-link only; then role, then the default rule's transport order, then id. */
function pickOnLinkPath(b: Bundle, site: string, segment: string): BundlePath | undefined {
  const rule = b.rules.find((r) => r.segment === segment && r.appClass === 'default') ?? b.rules.find((r) => r.segment === segment);
  const pref = rule?.preferred ?? [];
  const rank = (t: string) => (pref.indexOf(t) < 0 ? pref.length : pref.indexOf(t));
  return b.paths
    .filter((p) => p.peerSite === site && p.gateway === undefined)
    .sort((x, y) => ROLE_ORDER[x.role] - ROLE_ORDER[y.role] || rank(x.transport) - rank(y.transport) || x.id - y.id)[0];
}

/** The kernel routes and rules a bundle asks for (pure). */
export function planKernelRoutes(b: Bundle): RoutePlan {
  const plan: RoutePlan = { routes: [], rules: [], skipped: [] };
  const seen = new Set<string>();
  for (const p of b.paths) {
    if (!p.gateway) continue;
    const key = `${p.remoteAddress}|${p.localInterface}`;
    if (seen.has(key)) continue;
    seen.add(key);
    plan.routes.push({ dst: `${p.remoteAddress}/32`, via: p.gateway, dev: p.localInterface, table: 'main' });
  }
  b.segments.forEach((seg, i) => {
    const table = i === 0 ? 'main' : segmentTable(seg.id);
    if (table !== 'main') for (const lan of b.interfaces.lan.filter((l) => l.segment === seg.name)) plan.rules.push({ iif: lan.name, table });
    for (const r of seg.routes) {
      if (r.kind === 'local') continue; // connected routes already cover a site's own LANs
      if (r.kind === 'drop') { plan.routes.push({ dst: r.prefix, blackhole: true, table }); continue; }
      if (r.kind === 'internet') { plan.skipped.push({ segment: seg.name, prefix: r.prefix, reason: 'direct internet breakout needs NAT on the WAN interface (not programmed yet)' }); continue; }
      const target = r.via ?? r.site!;
      const path = pickOnLinkPath(b, target, seg.name);
      if (!path) { plan.skipped.push({ segment: seg.name, prefix: r.prefix, reason: `no on-link path to site ${target}; needs the overlay` }); continue; }
      plan.routes.push({ dst: r.prefix, via: path.remoteAddress, dev: path.localInterface, table });
    }
  });
  return plan;
}

/** Identity of a kernel route for the agent: table and destination ("default" written 0.0.0.0/0). */
export const routeKey = (r: { dst: string; table: number | 'main' }) => `${r.table}|${r.dst === 'default' ? '0.0.0.0/0' : r.dst}`;

function routeLine(verb: 'replace' | 'delete', r: KernelRoute): string {
  const parts = ['route', verb];
  if (r.blackhole) parts.push('blackhole');
  parts.push(r.dst);
  if (r.via) parts.push('via', r.via);
  if (r.dev) parts.push('dev', r.dev);
  if (verb === 'replace') parts.push('proto', String(RTPROT_PATRONUS));
  if (r.table !== 'main') parts.push('table', String(r.table));
  return parts.join(' ');
}

/**
 * `ip -batch` lines that move the kernel from `current` (the agent's routes now, from
 * `ip -j route show proto 250 table all`) to `plan`: replace every wanted route, delete the rest.
 */
export function routeBatch(plan: RoutePlan, current: { dst: string; table: number | 'main'; type?: string }[]): string[] {
  const want = new Set(plan.routes.map(routeKey));
  const lines = plan.routes.map((r) => routeLine('replace', r));
  for (const c of current) {
    if (!want.has(routeKey(c))) lines.push(`route delete ${c.type === 'blackhole' ? 'blackhole ' : ''}${c.dst === 'default' ? '0.0.0.0/0' : c.dst} proto ${RTPROT_PATRONUS}${c.table !== 'main' ? ` table ${c.table}` : ''}`);
  }
  return lines;
}

/** What changed between the routes last written and the routes wanted now (see {@link diffRoutes}). */
export interface RouteDiff {
  /** Wanted routes with no route of theirs written yet. */
  add: KernelRoute[];
  /** Wanted routes whose written version differs (next hop, device or blackhole). */
  change: KernelRoute[];
  /** Written routes no longer wanted. */
  remove: KernelRoute[];
  /** The wanted routes by {@link routeKey}: the `written` of the next diff once this one is applied. */
  next: Map<string, KernelRoute>;
}

const sameRoute = (a: KernelRoute, b: KernelRoute) => a.via === b.via && a.dev === b.dev && !!a.blackhole === !!b.blackhole;

/**
 * The difference between the routes last written (`written`, by {@link routeKey}) and the routes a plan
 * wants (pure; O(written + wanted)). Of two wanted routes with the same key the last wins, as it would in
 * a replace batch. Example: written {10.0.0.0/24 via A}, wanted [10.0.0.0/24 via B, 10.1.0.0/24 via A]
 * → change [10.0.0.0/24 via B], add [10.1.0.0/24 via A], remove [].
 */
export function diffRoutes(written: ReadonlyMap<string, KernelRoute>, wanted: readonly KernelRoute[]): RouteDiff {
  const next = new Map<string, KernelRoute>();
  for (const r of wanted) next.set(routeKey(r), r);
  const d: RouteDiff = { add: [], change: [], remove: [], next };
  for (const [k, r] of next) {
    const old = written.get(k);
    if (!old) d.add.push(r);
    else if (!sameRoute(old, r)) d.change.push(r);
  }
  for (const [k, r] of written) if (!next.has(k)) d.remove.push(r);
  return d;
}

function deleteLine(r: { dst: string; table: number | 'main'; blackhole?: boolean }): string {
  return `route delete ${r.blackhole ? 'blackhole ' : ''}${r.dst === 'default' ? '0.0.0.0/0' : r.dst} proto ${RTPROT_PATRONUS}${r.table !== 'main' ? ` table ${r.table}` : ''}`;
}

/** `ip -batch` lines applying a diff: replace added and changed routes, then delete removed ones. */
export function diffBatch(d: Pick<RouteDiff, 'add' | 'change' | 'remove'>): string[] {
  return [...d.add.map((r) => routeLine('replace', r)), ...d.change.map((r) => routeLine('replace', r)), ...d.remove.map(deleteLine)];
}

/** What one {@link KernelRouteWriter.write} did. */
export interface RouteWriteStats {
  /** full: read the kernel's proto-250 routes and rewrote every wanted one; diff: only the changes. */
  mode: 'full' | 'diff';
  /** Routes written with `route replace` (all wanted ones in full mode). */
  replaced: number;
  /** Of those, routes new since the last write (diff mode; 0 in full mode). */
  added: number;
  deleted: number;
  /** Wall time of the write, ms. */
  ms: number;
}

export interface KernelRouteWriterOptions {
  /** Run `ip` in this network namespace (`ip -n NS`); default the agent's own. */
  netns?: string;
  /** Lines per `ip -batch` process (default 100 000): bounds one process's input and a failure's scope. */
  chunkLines?: number;
  /**
   * `ip -batch` processes run at once for a large write (default 2). Every line of a write names a
   * different route, so their order does not matter; with 2 processes a 100 000-route write took 0.9 s
   * instead of 1.3 s here (ip's parsing overlaps the kernel's inserts).
   */
  parallel?: number;
}

/**
 * Writes route plans into the kernel incrementally. The first write (and any write with `full`) reads the
 * agent's proto-250 routes from the kernel and replaces every wanted route, deleting the rest — the way
 * to converge after a restart or on a new bundle, when the kernel may hold anything. Later writes diff
 * the plan against what this writer last wrote and send only the adds, changes and deletes, so a full
 * table arriving over many BGP batches costs O(changes) kernel work per batch, not O(table).
 * A failed write forgets the written state: the next write is full again.
 *
 * @example
 *   const w = new KernelRouteWriter();
 *   await w.write(plan, { full: true });   // bundle applied: converge from whatever the kernel holds
 *   await w.write(nextPlan);               // BGP batch: { mode: 'diff', replaced: 1, added: 1, deleted: 0, ... }
 */
export class KernelRouteWriter {
  private written?: Map<string, KernelRoute>;
  private rulesJson?: string;
  /** Stats of the last write (undefined before the first). */
  last?: RouteWriteStats;

  constructor(private readonly opts: KernelRouteWriterOptions = {}) {}

  private ip(args: string[]): string[] {
    return this.opts.netns ? ['-n', this.opts.netns, ...args] : args;
  }

  /**
   * The kernel's proto-250 routes of one family, every table, keyed as the plans write them: an IPv6
   * "default" reads back as ::/0, and host routes (which `ip` prints without a length) get /32 or /128 —
   * otherwise a full write would delete the host routes it has just replaced.
   */
  private async readOwn(family: '-4' | '-6'): Promise<{ dst: string; table: number | 'main'; type?: string }[]> {
    // BGP can make this a full table: no 1 MiB stdout cap.
    const { stdout } = await execFileP('ip', this.ip([family, '-j', 'route', 'show', 'proto', String(RTPROT_PATRONUS), 'table', 'all']), { maxBuffer: 1 << 30 });
    const host = family === '-6' ? '/128' : '/32';
    return (JSON.parse(stdout || '[]') as { dst: string; table?: string; type?: string }[]).map((r) => ({
      dst: r.dst === 'default' ? (family === '-6' ? '::/0' : 'default') : r.dst.includes('/') ? r.dst : r.dst + host, type: r.type,
      table: r.table === undefined || r.table === 'main' ? ('main' as const) : Number(r.table),
    }));
  }

  /** Bring the kernel to `plan`: everything when `full` or nothing is known yet, else the difference. */
  async write(plan: RoutePlan, opts: { full?: boolean } = {}): Promise<RouteWriteStats> {
    const t0 = performance.now();
    const prev = this.written;
    const full = opts.full || !prev;
    this.written = undefined; // until this write is known to have succeeded
    let lines: string[];
    let stats: Omit<RouteWriteStats, 'ms'>;
    let next: Map<string, KernelRoute>;
    if (full) {
      const current = [...await this.readOwn('-4'), ...await this.readOwn('-6')];
      next = new Map(plan.routes.map((r) => [routeKey(r), r]));
      // Through the map: one line per route even when the plan names a key twice (the last wins).
      lines = routeBatch({ ...plan, routes: [...next.values()] }, current);
      stats = { mode: 'full', replaced: next.size, added: 0, deleted: lines.length - next.size };
    } else {
      const d = diffRoutes(prev!, plan.routes);
      lines = diffBatch(d);
      next = d.next;
      stats = { mode: 'diff', replaced: d.add.length + d.change.length, added: d.add.length, deleted: d.remove.length };
    }
    const rulesJson = JSON.stringify(plan.rules);
    if (full || rulesJson !== this.rulesJson) {
      const { stdout } = await execFileP('ip', this.ip(['-j', 'rule', 'show']));
      const rules = JSON.parse(stdout || '[]') as { iif?: string; table?: string }[];
      const add = plan.rules.filter((r) => !rules.some((x) => x.iif === r.iif && x.table === String(r.table)));
      if (add.length) await this.batch(add.map((r) => `rule add iif ${r.iif} lookup ${r.table} priority ${r.table}`));
    }
    await this.send(lines);
    this.written = next;
    this.rulesJson = rulesJson;
    this.last = { ...stats, ms: Math.round((performance.now() - t0) * 10) / 10 };
    return this.last;
  }

  /**
   * Write only the given changes (an incremental merge's delta, fib.ts): replace `upsert` routes that
   * differ from what was written, delete `remove` routes that were written. Rules are left as they are.
   * With nothing known yet (first write, or the last one failed) it writes `fullPlan()` in full instead.
   *
   * @example
   *   await w.writeChanges(fib.update(changes), () => fib.kernelPlan());  // { mode: 'diff', replaced: 3, ... }
   */
  async writeChanges(d: { upsert: readonly KernelRoute[]; remove: readonly KernelRoute[] }, fullPlan: () => RoutePlan): Promise<RouteWriteStats> {
    const prev = this.written;
    if (!prev) return this.write(fullPlan(), { full: true });
    const t0 = performance.now();
    this.written = undefined; // until this write is known to have succeeded
    const add: KernelRoute[] = [], change: KernelRoute[] = [], remove: KernelRoute[] = [];
    // Each key built once: a full table is a million of them (string concatenation and hashing).
    const setKeys: string[] = [], setRoutes: KernelRoute[] = [], removeKeys: string[] = [];
    for (const r of d.upsert) {
      const k = routeKey(r);
      const old = prev.get(k);
      if (!old) add.push(r); else if (!sameRoute(old, r)) change.push(r); else continue;
      setKeys.push(k); setRoutes.push(r);
    }
    for (const r of d.remove) { const k = routeKey(r); if (prev.has(k)) { remove.push(r); removeKeys.push(k); } }
    await this.send(diffBatch({ add, change, remove }));
    for (const k of removeKeys) prev.delete(k);
    for (let i = 0; i < setKeys.length; i++) prev.set(setKeys[i]!, setRoutes[i]!);
    this.written = prev;
    this.last = { mode: 'diff', replaced: add.length + change.length, added: add.length, deleted: remove.length, ms: Math.round((performance.now() - t0) * 10) / 10 };
    return this.last;
  }

  /** Send `ip -batch` lines in chunks, large chunks over parallel processes. */
  private async send(lines: string[]): Promise<void> {
    const chunk = this.opts.chunkLines ?? 100_000;
    const lanes = Math.max(1, this.opts.parallel ?? 2);
    for (let i = 0; i < lines.length; i += chunk) {
      const part = lines.slice(i, i + chunk);
      // Small writes (a BGP batch of a few routes) stay one process.
      const n = part.length < 2000 ? 1 : lanes;
      const per = Math.ceil(part.length / n);
      // allSettled: a failed lane must not leave another still writing under the next write.
      const done = await Promise.allSettled(Array.from({ length: n }, (_, k) => part.slice(k * per, (k + 1) * per)).filter((x) => x.length).map((x) => this.batch(x)));
      const failed = done.find((d) => d.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
  }

  /** Forget what was written: the next write is a full one. */
  forget(): void {
    this.written = undefined;
  }

  private async batch(lines: string[]): Promise<void> {
    const child = spawn('ip', this.ip(['-batch', '-']), { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => { if (stderr.length < 4096) stderr += c.toString(); });
    const exited = once(child, 'close') as Promise<[number | null]>;
    // Large batches: write in slices and respect back-pressure rather than one huge string.
    child.stdin!.on('error', () => undefined); // ip died early: its exit status tells why
    for (let i = 0; i < lines.length; i += 4096) {
      if (!child.stdin!.write(lines.slice(i, i + 4096).join('\n') + '\n')) await Promise.race([once(child.stdin!, 'drain'), exited]);
    }
    child.stdin!.end();
    const [code] = await exited;
    if (code !== 0) {
      // ip names the failing input line ("Command failed -:N"): quote it, the message alone rarely says which route.
      const n = Number(/Command failed -:(\d+)/.exec(stderr)?.[1]);
      const line = n ? ` (line ${n}: ${lines[n - 1]})` : '';
      throw new Error(`ip -batch: ${stderr.trim().split('\n')[0] || `exit ${code}`}${line}`);
    }
  }
}

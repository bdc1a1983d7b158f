/**
 * Lab normalisation: inheritance (defaults → kinds → groups → nodes), short endpoints into typed ones,
 * reference checks (every error names the key path), and addresses for endpoints attached to `wan` nodes:
 * a bridge cloud hands out host addresses of its subnet in link order; a routed cloud carves a /30 per link
 * (cloud side .1, attached side .2, which also becomes that endpoint's gateway).
 */
import { z } from 'zod';
import { InputError, type InputIssue, readYamlFile, parseYaml, validate, type SourceDoc } from '../../dataplane/validate.ts';
import { parsePrefix, bigintToAddr } from '../../dataplane/net.ts';
import { dirname, resolve } from 'node:path';
import { loadTrace } from '../impair/trace.ts';
import { LabFile, NodeName, IfName, type Impair, type NodeFields, type NodeKind, RouterConfig, WanConfig } from './schema.ts';

export interface LabEndpoint {
  node: string;
  interface: string;
  ipv4?: string;
  ipv6?: string;
  mac?: string;
  /** Underlay next hop for this endpoint (routed wan clouds). */
  gateway?: string;
  /** Egress impairment (link-wide merged with the endpoint's own). */
  impair?: Impair;
}

export interface LabLink {
  /** Position in topology.links. */
  index: number;
  endpoints: [LabEndpoint, LabEndpoint];
  mtu: number;
  srlg: string[];
  /** Runs through a delay line (a hidden link namespace): it has an impairment or is marked impairable. */
  impairable?: boolean;
}

export interface LabNode {
  name: string;
  kind: NodeKind;
  group?: string;
  site?: string;
  labels: Record<string, string>;
  gateway?: string;
  routes: { dst: string; via: string }[];
  exec: string[];
  sysctls: Record<string, string>;
  router?: z.output<typeof RouterConfig>;
  wan?: z.output<typeof WanConfig> & { transport: string };
  /** Edge nodes: the agent's skewed clock (offset in ms, drift in ppm); absent means the host clock. */
  clock?: { offsetMs: number; driftPpm: number };
}

/** A validated, normalised lab. */
export interface Lab {
  name: string;
  description?: string;
  /** The file it came from (for messages). */
  file: string;
  /** Scenario seed for loss decisions (default 1). */
  seed?: number;
  nodes: Record<string, LabNode>;
  links: LabLink[];
}

function mergeFields(...layers: (NodeFields | null | undefined)[]): NodeFields {
  const out: Record<string, unknown> = {};
  for (const l of layers) {
    if (!l) continue;
    for (const [k, v] of Object.entries(l)) {
      if (v === undefined) continue;
      const prev = out[k];
      // Maps (labels, sysctls, router, wan) merge key by key; lists and scalars are replaced.
      out[k] = prev && typeof prev === 'object' && !Array.isArray(prev) && typeof v === 'object' && !Array.isArray(v) ? { ...prev, ...v } : v;
    }
  }
  return out as NodeFields;
}

/** Validate and normalise parsed lab data. `file` is used in messages; `rename` overrides `name` (tests use unique names). */
export function normaliseLab(data: unknown, file: string, src?: SourceDoc, opts: { rename?: string } = {}): Lab {
  const raw = validate(LabFile, data, file, src);
  const issues: InputIssue[] = [];
  const err = (path: (string | number)[], message: string) => issues.push({ path, message, line: src?.lineOf(path) });
  const t = raw.topology;
  const nodes: Record<string, LabNode> = {};
  const groups = t.groups ?? {};

  for (const [name, own] of Object.entries(t.nodes)) {
    const at = ['topology', 'nodes', name];
    if (!NodeName.safeParse(name).success) { err(at, `node name must be 1–32 lower-case letters, digits or "-"`); continue; }
    const groupName = own?.group ?? t.defaults?.group;
    if (groupName !== undefined && !(groupName in groups)) {
      err([...at, 'group'], `group "${groupName}" is not defined (known: ${Object.keys(groups).join(', ') || 'none'})`);
      continue;
    }
    const group = groupName ? groups[groupName] : undefined;
    const kind = own?.kind ?? group?.kind ?? t.defaults?.kind;
    if (!kind) { err([...at, 'kind'], `expected a kind (one of edge, router, host, wan) on the node, its group or topology.defaults`); continue; }
    const f = mergeFields(t.defaults, t.kinds?.[kind], group, own);
    const node: LabNode = {
      name, kind, labels: f.labels ?? {}, routes: f.routes ?? [], exec: f.exec ?? [],
      sysctls: Object.fromEntries(Object.entries(f.sysctls ?? {}).map(([k, v]) => [k, String(v)])),
    };
    if (groupName) node.group = groupName;
    if (f.site) node.site = f.site;
    if (f.gateway) node.gateway = f.gateway;
    if (kind === 'edge' && !f.site) err([...at, 'site'], 'an edge node needs a site (the intent site it belongs to)');
    if (f.router) {
      if (kind !== 'router') err([...at, 'router'], `only router nodes take a router block (this node is a ${kind})`);
      else node.router = f.router;
    } else if (kind === 'router') err([...at, 'router'], 'a router node needs a router block with at least an asn');
    if (f.wan) {
      if (kind !== 'wan') err([...at, 'wan'], `only wan nodes take a wan block (this node is a ${kind})`);
      else node.wan = { ...f.wan, transport: f.wan.transport ?? name };
    } else if (kind === 'wan') err([...at, 'wan'], 'a wan node needs a wan block with at least a subnet');
    if (node.wan && node.wan.mode !== 'routed' && (node.wan.nat !== 'none' || node.wan.outside)) {
      err([...at, 'wan', node.wan.nat !== 'none' ? 'nat' : 'outside'], 'NAT and outside interfaces need mode: routed (a bridge cloud does not translate)');
    }
    if (node.wan && node.wan.nat !== 'none' && !node.wan.outside?.length) err([...at, 'wan', 'outside'], `a NAT wan node needs its outside interfaces, e.g. outside: [up0]`);
    if (f.clock) {
      if (kind !== 'edge') err([...at, 'clock'], `only edge nodes take a clock block (it skews the agent's clock; this node is a ${kind})`);
      else if (f.clock.offset !== 0 || f.clock.drift !== 0) node.clock = { offsetMs: f.clock.offset, driftPpm: f.clock.drift };
    }
    nodes[name] = node;
  }

  const links: LabLink[] = [];
  const used = new Map<string, string>(); // "node:if" -> key path of first use
  raw.topology.links.forEach((l, index) => {
    const at = ['topology', 'links', index];
    const eps = l.endpoints.map((e, j): LabEndpoint | undefined => {
      const p = [...at, 'endpoints', j];
      const ep: LabEndpoint = typeof e === 'string'
        ? { node: e.split(':')[0]!, interface: e.split(':')[1]! }
        : { node: e.node, interface: e.interface, ...(e.ipv4 && { ipv4: e.ipv4 }), ...(e.ipv6 && { ipv6: e.ipv6 }), ...(e.mac && { mac: e.mac }), ...(e.gateway && { gateway: e.gateway }), ...(e.impair && { impair: e.impair }) };
      if (!nodes[ep.node]) {
        if (!(ep.node in t.nodes)) err(p, `node "${ep.node}" is not defined (known: ${Object.keys(t.nodes).join(', ')})`);
        return undefined;
      }
      if (!IfName.safeParse(ep.interface).success) { err(p, `interface "${ep.interface}": expected 1–15 letters, digits, "_" or "-", starting with a letter`); return undefined; }
      const key = `${ep.node}:${ep.interface}`;
      const prev = used.get(key);
      if (prev) { err(p, `endpoint "${key}" is already used by ${prev}`); return undefined; }
      used.set(key, `topology.links[${index}]`);
      if (l.impair || ep.impair) ep.impair = { ...l.impair, ...ep.impair };
      // A trace becomes schedule steps here, so a bad CSV is reported before anything is deployed.
      const trace = ep.impair?.trace;
      if (trace !== undefined) {
        const t = typeof trace === 'string' ? { file: trace } : trace;
        const tracePath = typeof e !== 'string' && e.impair?.trace !== undefined ? [...p, 'impair', 'trace'] : [...at, 'impair', 'trace'];
        const steps = loadTrace(resolve(dirname(file), t.file), { file, path: tracePath });
        const { trace: _t, ...rest } = ep.impair!;
        ep.impair = { ...rest, schedule: { steps, ...(t.repeat !== undefined && { repeat: t.repeat }) } };
      }
      return ep;
    });
    if (eps[0] && eps[1]) {
      if (eps[0].node === eps[1].node) err([...at, 'endpoints'], `a link must join two different nodes (both ends on "${eps[0].node}")`);
      links.push({ index, endpoints: [eps[0], eps[1]], mtu: l.mtu, srlg: l.srlg ?? [], impairable: !!(eps[0].impair || eps[1].impair) || (l.impairable ?? raw.impairable) });
    }
  });

  if (!issues.length) expandCgn(nodes, links, err);
  if (!issues.length) assignWanAddresses(nodes, links, err);
  if (issues.length) throw new InputError(file, issues);
  return { name: opts.rename ?? raw.name, ...(raw.description && { description: raw.description }), file, seed: raw.seed, nodes, links };
}

const CGN_SHARED = '100.127.255.0/30';
const isOutside = (n: LabNode | undefined, iface: string) => !!n?.wan?.outside?.includes(iface);

/**
 * Checks outside interfaces exist, then turns each `nat: cgn` node X into two NAT layers: X keeps its
 * inside links and NATs into the shared space towards a generated node "X-cgn", which takes over X's
 * outside links (same interface names) and NATs again. Both are ordinary wan nodes from here on.
 */
function expandCgn(nodes: Record<string, LabNode>, links: LabLink[], err: (p: (string | number)[], m: string) => void) {
  for (const n of Object.values(nodes)) {
    for (const o of n.wan?.outside ?? []) {
      if (!links.some((l) => l.endpoints.some((e) => e.node === n.name && e.interface === o))) {
        err(['topology', 'nodes', n.name, 'wan', 'outside'], `outside interface "${o}" of "${n.name}" is on no link`);
      }
    }
  }
  for (const x of Object.values(nodes)) {
    if (x.wan?.nat !== 'cgn') continue;
    const at = ['topology', 'nodes', x.name, 'wan'];
    const carrier = `${x.name}-cgn`;
    if (nodes[carrier]) { err(at, `nat: cgn generates a node "${carrier}", which the lab already defines; rename that node`); continue; }
    const shared = x.wan.shared ?? CGN_SHARED;
    if (parsePrefix(shared)!.family !== 4 || parsePrefix(shared)!.len > 30) { err([...at, 'shared'], 'expected an IPv4 prefix of /30 or larger'); continue; }
    if (links.some((l) => l.endpoints.some((e) => e.node === x.name && e.interface === 'cgn0'))) { err(at, 'nat: cgn uses interface "cgn0" on this node; rename the link endpoint that uses it'); continue; }
    const outside = x.wan.outside ?? [];
    let first = -1;
    for (const l of links) {
      for (const e of l.endpoints) if (e.node === x.name && outside.includes(e.interface)) { e.node = carrier; if (first < 0) first = l.index; }
    }
    nodes[carrier] = {
      name: carrier, kind: 'wan', labels: { ...x.labels, 'patronus.dev/cgn-layer-of': x.name }, routes: [], exec: [], sysctls: {},
      wan: { mode: 'routed', transport: x.wan.transport, subnet: shared, nat: 'port-preserving', outside },
    };
    x.wan = { ...x.wan, outside: ['cgn0'] };
    links.push({ index: first, endpoints: [{ node: x.name, interface: 'cgn0' }, { node: carrier, interface: 'in0' }], mtu: 1500, srlg: [] });
  }
}

function assignWanAddresses(nodes: Record<string, LabNode>, links: LabLink[], err: (p: (string | number)[], m: string) => void) {
  const next = new Map<string, number>();
  for (const link of links) {
    for (const side of [0, 1] as const) {
      const cloud = nodes[link.endpoints[side].node]!;
      const far = link.endpoints[1 - side]!;
      if (cloud.kind !== 'wan' || !cloud.wan) continue;
      // A cloud's own upstream link is addressed by whatever lies beyond it, not from its subnet.
      if (isOutside(cloud, link.endpoints[side].interface)) continue;
      const at = ['topology', 'links', link.index, 'endpoints', 1 - side];
      if (nodes[far.node]!.kind === 'wan' && !isOutside(nodes[far.node], far.interface)) {
        err(at, 'two wan clouds can only be linked through an outside interface of one of them (wan.outside), or put a router between them');
        continue;
      }
      const sub = parsePrefix(cloud.wan.subnet)!;
      if (sub.family !== 4) { err(['topology', 'nodes', cloud.name, 'wan', 'subnet'], 'expected an IPv4 subnet'); continue; }
      const n = next.get(cloud.name) ?? 0;
      next.set(cloud.name, n + 1);
      if (cloud.wan.mode === 'bridge') {
        if (far.ipv4) continue;
        const host = BigInt(n + 1);
        if (host >= (1n << BigInt(32 - sub.len)) - 1n) { err(at, `subnet ${cloud.wan.subnet} of "${cloud.name}" has no address left`); continue; }
        far.ipv4 = `${bigintToAddr(sub.addr + host, 4)}/${sub.len}`;
      } else {
        const base = sub.addr + BigInt(4 * n);
        if (sub.len > 30 || BigInt(4 * (n + 1)) > 1n << BigInt(32 - sub.len)) { err(at, `subnet ${cloud.wan.subnet} of "${cloud.name}" has no /30 left`); continue; }
        link.endpoints[side].ipv4 = `${bigintToAddr(base + 1n, 4)}/30`;
        if (!far.ipv4) far.ipv4 = `${bigintToAddr(base + 2n, 4)}/30`;
        far.gateway = bigintToAddr(base + 1n, 4);
      }
    }
  }
  // A cloud with outside links routes everything else upstream: default route via the first outside
  // link's gateway (given by the upstream cloud) or the far end's own address.
  for (const n of Object.values(nodes)) {
    if (!n.wan?.outside?.length) continue;
    for (const l of links) {
      const i = l.endpoints.findIndex((e) => e.node === n.name && n.wan!.outside!.includes(e.interface));
      if (i < 0) continue;
      if (!l.endpoints[i]!.ipv4) { err(['topology', 'links', l.index, 'endpoints', i], `outside interface "${l.endpoints[i]!.interface}" of "${n.name}" needs an address: link it to a wan cloud or give it ipv4`); continue; }
      if (n.gateway) continue;
      const gw = l.endpoints[i]!.gateway ?? l.endpoints[1 - i]!.ipv4?.split('/')[0];
      if (gw) { n.gateway = gw; break; }
    }
  }
}

/** Read, validate and normalise a lab file. Throws {@link InputError} (exit 2) naming file and key path. */
export function loadLab(file: string, opts: { rename?: string } = {}): Lab {
  const src = readYamlFile(file);
  return normaliseLab(src.data, file, src, opts);
}

/** Same as {@link loadLab} for text already in memory. */
export function parseLab(text: string, file: string, opts: { rename?: string } = {}): Lab {
  const src = parseYaml(text, file);
  return normaliseLab(src.data, file, src, opts);
}

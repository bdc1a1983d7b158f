/**
 * Cross-reference checks on a structurally valid intent document — the pass after the zod schema. Each
 * problem names its key path: dangling references (a rule's app, SLA, QoS, segment or transport; a hub
 * that is not a site; a LAN segment that does not exist), duplicate names and ids (site, segment and
 * application-class ids, rule names), classifier entries that cannot match, and LAN prefixes that
 * overlap within a segment across all sites. Inventory-dependent checks live in the compiler.
 */
import type { InputIssue } from '../../dataplane/validate.ts';
import { formatPath } from '../../dataplane/validate.ts';
import { overlaps, parsePrefix } from '../../dataplane/net.ts';
import { known } from './ids.ts';
import { DEFAULT_APP_CLASS, DEFAULT_SEGMENT, type IntentDocument } from './schema.ts';

type Path = (string | number)[];

/** Which site holds each explicit id first (sorted by name); later holders are duplicates. */
function duplicateIds(ids: [name: string, id: number | undefined][], what: string, section: string, issues: InputIssue[], reserved?: [string, number]) {
  const holder = new Map<number, string>();
  if (reserved) holder.set(reserved[1], reserved[0]);
  for (const [name, id] of [...ids].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (id === undefined) continue;
    const first = holder.get(id);
    if (first === undefined) { holder.set(id, name); continue; }
    const builtin = reserved && first === reserved[0] ? ` (the built-in ${what} "${first}" has id ${id} unless you declare it with another id)` : '';
    issues.push({ path: [section, name, 'id'], message: `id ${id} is already used by ${what} "${first}"${builtin}` });
  }
}

/** All cross-reference problems of `doc`, in file order of sections; empty when it is consistent. */
export function checkIntent(doc: IntentDocument): InputIssue[] {
  const issues: InputIssue[] = [];
  const segments = new Set([...Object.keys(doc.segments), DEFAULT_SEGMENT]);
  const sites = Object.keys(doc.sites);

  // Segment ids: `default` is id 1 unless declared, so a declared segment may not take 1 silently.
  duplicateIds(Object.entries(doc.segments).map(([n, s]) => [n, s.id]), 'segment', 'segments', issues,
    doc.segments[DEFAULT_SEGMENT] ? undefined : [DEFAULT_SEGMENT, 1]);

  duplicateIds(Object.entries(doc.sites).map(([n, s]) => [n, s.id]), 'site', 'sites', issues);

  // LAN prefixes: segments must exist; no two prefixes of one segment may overlap, across all sites.
  const bySegment = new Map<string, { site: string; text: string; path: Path }[]>();
  for (const site of [...sites].sort()) {
    const lan = doc.sites[site]!.lanPrefixes;
    const entries: [string, string[], Path][] = Array.isArray(lan)
      ? [[DEFAULT_SEGMENT, lan, ['sites', site, 'lanPrefixes']]]
      : Object.entries(lan).map(([seg, l]) => [seg, l, ['sites', site, 'lanPrefixes', seg]]);
    for (const [seg, list, path] of entries) {
      if (!segments.has(seg)) {
        issues.push({ path, message: `segment "${seg}" is not defined (known: ${known(segments)})` });
        continue;
      }
      const rows = bySegment.get(seg) ?? [];
      list.forEach((text, i) => rows.push({ site, text, path: [...path, i] }));
      bySegment.set(seg, rows);
    }
  }
  for (const [seg, rows] of [...bySegment].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const parsed = rows.map((r) => parsePrefix(r.text)!);
    for (let j = 0; j < rows.length; j++) {
      for (let i = 0; i < j; i++) {
        if (!overlaps(parsed[i]!, parsed[j]!)) continue;
        const a = rows[i]!, b = rows[j]!;
        const owner = a.site === b.site ? 'this site' : `site ${a.site}`;
        issues.push({ path: b.path, message: `prefix ${b.text} overlaps ${a.text} of ${owner} (${formatPath(a.path)}) in segment "${seg}"; prefixes within a segment must not overlap` });
        break;
      }
    }
  }

  // Topology: hubs are sites; a site with role hub must be among explicitly listed hubs.
  const { topology } = doc;
  if (topology.hubs) {
    const seen = new Set<string>();
    topology.hubs.forEach((h, i) => {
      if (!(h in doc.sites)) issues.push({ path: ['topology', 'hubs', i], message: `site "${h}" is not defined (known: ${known(sites)})` });
      else if (seen.has(h)) issues.push({ path: ['topology', 'hubs', i], message: `site "${h}" is listed twice` });
      seen.add(h);
    });
    for (const site of sites.sort()) {
      if (doc.sites[site]!.role === 'hub' && !seen.has(site)) {
        issues.push({ path: ['sites', site, 'role'], message: `site has role hub but is not in topology.hubs (${known(seen)}); add it there or make it a spoke` });
      }
    }
  }
  const hubCount = topology.hubs?.length ?? sites.filter((s) => doc.sites[s]!.role === 'hub').length;
  if (topology.policy === 'hub-spoke' && sites.length > 1 && hubCount === 0) {
    issues.push({ path: ['topology', 'policy'], message: 'hub-spoke needs at least one hub: give a site role: hub or list it in topology.hubs (or use policy full-mesh)' });
  }

  // Application classes.
  if (DEFAULT_APP_CLASS in doc.appClasses) {
    issues.push({ path: ['appClasses', DEFAULT_APP_CLASS], message: `"${DEFAULT_APP_CLASS}" is the built-in class (id 0, matches all traffic); choose another name` });
  }
  duplicateIds(Object.entries(doc.appClasses).map(([n, c]) => [n, c.id]), 'app class', 'appClasses', issues);
  if (Object.keys(doc.appClasses).length > 255) issues.push({ path: ['appClasses'], message: 'at most 255 application classes (ids 1–255)' });
  for (const [name, cls] of Object.entries(doc.appClasses)) {
    if (cls.match.length === 0 && !cls.fqdn?.length && !cls.sni?.length) {
      issues.push({ path: ['appClasses', name], message: 'expected at least one match entry (or fqdn / sni names)' });
    }
    cls.match.forEach((m, i) => {
      for (const key of ['ports', 'srcPorts'] as const) {
        if (m[key] && m.protocol !== 'tcp' && m.protocol !== 'udp') {
          issues.push({ path: ['appClasses', name, 'match', i, key], message: `ports need protocol tcp or udp (protocol is ${m.protocol})` });
        }
      }
    });
  }
  for (const [section, n] of [['slaClasses', Object.keys(doc.slaClasses).length], ['qosClasses', Object.keys(doc.qosClasses).length]] as const) {
    if (n > 255) issues.push({ path: [section], message: 'at most 255 classes' });
  }

  // Rules: unique names and every reference defined.
  const ruleNames = new Map<string, number>();
  const apps = [DEFAULT_APP_CLASS, ...Object.keys(doc.appClasses)];
  doc.rules.forEach((r, i) => {
    const at = (...p: Path): Path => ['rules', i, ...p];
    const first = ruleNames.get(r.name);
    if (first !== undefined) issues.push({ path: at('name'), message: `rule name "${r.name}" is already used by rules[${first}]` });
    else ruleNames.set(r.name, i);
    if (!apps.includes(r.app)) issues.push({ path: at('app'), message: `app class "${r.app}" is not defined (known: ${known(apps)})` });
    if (!segments.has(r.segment)) issues.push({ path: at('segment'), message: `segment "${r.segment}" is not defined (known: ${known(segments)})` });
    if (r.sla !== undefined && !(r.sla in doc.slaClasses)) issues.push({ path: at('sla'), message: `SLA class "${r.sla}" is not defined (known: ${known(Object.keys(doc.slaClasses))})` });
    if (r.qos !== undefined && !(r.qos in doc.qosClasses)) issues.push({ path: at('qos'), message: `QoS class "${r.qos}" is not defined (known: ${known(Object.keys(doc.qosClasses))})` });
    const seen = new Set<string>();
    r.paths.preferred.forEach((t, j) => {
      if (!(t in doc.transports)) issues.push({ path: at('paths', 'preferred', j), message: `transport "${t}" is not defined (known: ${known(Object.keys(doc.transports))})` });
      else if (seen.has(t)) issues.push({ path: at('paths', 'preferred', j), message: r.paths.preferred[0] === t ? `transport "${t}" is the primary (preferred[0]) and cannot also be a backup` : `transport "${t}" is listed twice` });
      seen.add(t);
    });
  });

  // Probing: per-transport overrides name defined transports.
  for (const t of Object.keys(doc.probing?.transports ?? {}).sort()) {
    if (!(t in doc.transports)) issues.push({ path: ['probing', 'transports', t], message: `transport "${t}" is not defined (known: ${known(Object.keys(doc.transports))})` });
  }

  // BGP: sites exist, neighbour segments exist, named policies are defined, a neighbour is listed once.
  const policies = Object.keys(doc.bgp.policies ?? {});
  for (const [site, b] of Object.entries(doc.bgp.sites ?? {}).sort(([x], [y]) => (x < y ? -1 : 1))) {
    const at = (...p: Path): Path => ['bgp', 'sites', site, ...p];
    if (!(site in doc.sites)) issues.push({ path: at(), message: `site "${site}" is not defined (known: ${known(sites)})` });
    const seen = new Set<string>();
    b.neighbors.forEach((n, i) => {
      if (seen.has(n.address)) issues.push({ path: at('neighbors', i, 'address'), message: `neighbour ${n.address} is listed twice` });
      seen.add(n.address);
      if (!segments.has(n.segment)) issues.push({ path: at('neighbors', i, 'segment'), message: `segment "${n.segment}" is not defined (known: ${known(segments)})` });
      for (const k of ['import', 'export'] as const) {
        const name = n[k];
        if (name !== undefined && !policies.includes(name)) issues.push({ path: at('neighbors', i, k), message: `policy "${name}" is not defined in bgp.policies (known: ${known(policies)})` });
      }
    });
    b.networks.forEach((net, i) => {
      if (!segments.has(net.segment)) issues.push({ path: at('networks', i), message: `segment "${net.segment}" is not defined (known: ${known(segments)})` });
    });
  }
  return issues;
}

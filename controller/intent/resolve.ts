/**
 * Turns a checked {@link IntentDocument} into the resolved {@link Intent} the compiler reads: ids assigned
 * (explicit ids win, the rest in sorted name order), transport colours filled, the `default` segment added,
 * LAN prefixes normalised to canonical per-segment lists, and every map
 * rebuilt in sorted key order so that key order in the YAML cannot change a bundle.
 */
import { bigintToAddr, parsePrefix } from '../../dataplane/net.ts';
import { assignIds } from './ids.ts';
import {
  DEFAULT_APP_CLASS, DEFAULT_SEGMENT, INTENT_API_VERSION,
  type AppClass, type Intent, type IntentDocument, type QosClass, type Segment, type Site, type SlaClass, type Transport,
} from './schema.ts';

/** Canonical text of a prefix ("2001:DB8:0::/32" → "2001:db8::/32"). */
export function canonicalPrefix(text: string): string {
  const p = parsePrefix(text);
  if (!p) throw new Error(`not a prefix: ${text}`);
  return `${bigintToAddr(p.addr, p.family)}/${p.len}`;
}

function sortedRecord<T>(names: Iterable<string>, make: (name: string) => T): Record<string, T> {
  const out: Record<string, T> = {};
  for (const n of [...names].sort()) out[n] = make(n);
  return out;
}

/** Resolve a document that passed {@link checkIntent}; pure and deterministic. */
export function resolveIntent(doc: IntentDocument): Intent {
  const transports = sortedRecord(Object.keys(doc.transports), (name): Transport => {
    const t = doc.transports[name]!;
    return {
      name, colour: t.colour ?? name, type: t.type, restrict: t.restrict, role: t.role, metered: t.metered, encryption: t.encryption,
      ...(t.bandwidth ? { bandwidth: { ...t.bandwidth } } : {}),
      ...(t.mtu !== undefined ? { mtu: t.mtu } : {}),
      ...(t.probeBudget !== undefined ? { probeBudget: t.probeBudget } : {}),
    };
  });

  const segIds: Record<string, number> = { [DEFAULT_SEGMENT]: 1 };
  for (const [n, s] of Object.entries(doc.segments)) segIds[n] = s.id;
  const segments = sortedRecord(Object.keys(segIds), (name): Segment => ({ name, id: segIds[name]! }));

  const siteIds = assignIds(Object.fromEntries(Object.entries(doc.sites).map(([n, s]) => [n, s.id])), 1);
  const hubs = doc.topology.hubs ?? Object.keys(doc.sites).filter((n) => doc.sites[n]!.role === 'hub').sort();
  const sites = sortedRecord(Object.keys(doc.sites), (name): Site => {
    const s = doc.sites[name]!;
    const lan = Array.isArray(s.lanPrefixes) ? { [DEFAULT_SEGMENT]: s.lanPrefixes } : s.lanPrefixes;
    const lanPrefixes = sortedRecord(Object.keys(lan).filter((k) => lan[k]!.length > 0), (seg) => lan[seg]!.map(canonicalPrefix));
    return {
      name, id: siteIds[name]!, role: hubs.includes(name) ? 'hub' : 'spoke',
      ...(s.region !== undefined ? { region: s.region } : {}),
      lanPrefixes,
      ...(s.template !== undefined ? { template: s.template } : {}),
      ...(s.description !== undefined ? { description: s.description } : {}),
    };
  });

  const slaIds = assignIds(Object.fromEntries(Object.keys(doc.slaClasses).map((n) => [n, undefined])), 1);
  const slaClasses = sortedRecord(Object.keys(doc.slaClasses), (name): SlaClass => ({ name, id: slaIds[name]!, ...doc.slaClasses[name]! }));

  const appIds = assignIds(Object.fromEntries(Object.entries(doc.appClasses).map(([n, c]) => [n, c.id])), 1);
  const appClasses = sortedRecord([DEFAULT_APP_CLASS, ...Object.keys(doc.appClasses)], (name): AppClass => {
    if (name === DEFAULT_APP_CLASS) return { name, id: 0, match: [], fqdn: [], sni: [], builtin: true };
    const c = doc.appClasses[name]!;
    return {
      name, id: appIds[name]!, builtin: false, fqdn: c.fqdn ?? [], sni: c.sni ?? [],
      match: c.match.map((m) => ({
        protocol: m.protocol, ports: m.ports ?? [], srcPorts: m.srcPorts ?? [],
        prefixes: (m.prefixes ?? []).map(canonicalPrefix), srcPrefixes: (m.srcPrefixes ?? []).map(canonicalPrefix), dscp: m.dscp ?? [],
      })),
    };
  });

  const qosIds = assignIds(Object.fromEntries(Object.keys(doc.qosClasses).map((n) => [n, undefined])), 1);
  const qosClasses = sortedRecord(Object.keys(doc.qosClasses), (name): QosClass => {
    const q = doc.qosClasses[name]!;
    return { name, id: qosIds[name]!, priority: q.priority, weight: q.weight, ...(q.dscp !== undefined ? { dscp: q.dscp } : {}) };
  });

  return {
    apiVersion: INTENT_API_VERSION,
    name: doc.name,
    ...(doc.description !== undefined ? { description: doc.description } : {}),
    transports, segments, sites,
    topology: { policy: doc.topology.policy, hubs: [...hubs], onDemand: { ...doc.topology.onDemand } },
    slaClasses, appClasses, qosClasses,
    rules: doc.rules.map((r) => ({
      name: r.name, app: r.app, segment: r.segment,
      ...(r.sla !== undefined ? { sla: r.sla } : {}),
      ...(r.qos !== undefined ? { qos: r.qos } : {}),
      service: r.service,
      paths: { preferred: [...r.paths.preferred], strategy: r.paths.strategy, perPacket: r.paths.perPacket },
    })),
    bgp: doc.bgp, wanopt: doc.wanopt,
    ...(doc.probing ? { probing: structuredClone(doc.probing) } : {}),
    ...(doc.rollout?.commitConfirm !== undefined ? { rollout: { commitConfirm: doc.rollout.commitConfirm } } : {}),
  };
}

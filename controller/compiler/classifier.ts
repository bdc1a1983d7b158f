/**
 * The steering tables of a bundle, identical on every edge: classifier rows, rules, SLA and QoS classes.
 *
 * Classifier order (lower priority runs first): application classes in the order rules first name them,
 * then the classes no rule names (by name), then the built-in `default` class (id 0, matches everything)
 * last, so a catch-all never shadows a specific class. A class contributes one row per match entry, in the
 * order written; `fqdn` and `sni` are kept in the intent but not compiled yet.
 */
import type { Bundle } from '../../dataplane/bundle/index.ts';
import { DEFAULT_APP_CLASS, type Intent } from '../intent/index.ts';

type Tables = Pick<Bundle, 'classifier' | 'rules' | 'slaClasses' | 'qosClasses'>;

/**
 * Build the tables. `attached` lists the transports present in the inventory (active first); a rule
 * without `preferred` gets that list.
 */
export function buildTables(intent: Intent, attached: string[], warnings: string[]): Tables {
  const order: string[] = [];
  for (const r of intent.rules) if (r.app !== DEFAULT_APP_CLASS && !order.includes(r.app)) order.push(r.app);
  for (const name of Object.keys(intent.appClasses).sort()) if (name !== DEFAULT_APP_CLASS && !order.includes(name)) order.push(name);
  order.push(DEFAULT_APP_CLASS);

  const classifier: Bundle['classifier'] = [];
  for (const name of order) {
    const cls = intent.appClasses[name]!;
    if (cls.builtin) {
      classifier.push({ appClass: name, classId: cls.id, priority: classifier.length + 1, protocol: 'any', srcPorts: [], dstPorts: [], srcPrefixes: [], dstPrefixes: [], dscp: [] });
      continue;
    }
    if (cls.match.length === 0) warnings.push(`appClasses.${name}: matches only by fqdn/sni, which the classifier does not compile yet; no traffic is classified into it`);
    for (const m of cls.match) {
      classifier.push({
        appClass: name, classId: cls.id, priority: classifier.length + 1, protocol: m.protocol,
        srcPorts: m.srcPorts.map(([a, b]) => [a, b]), dstPorts: m.ports.map(([a, b]) => [a, b]),
        srcPrefixes: [...m.srcPrefixes], dstPrefixes: [...m.prefixes], dscp: [...m.dscp],
      });
    }
  }

  const rules: Bundle['rules'] = intent.rules.map((r) => ({
    name: r.name, segment: r.segment, appClass: r.app,
    ...(r.sla !== undefined ? { slaClass: r.sla } : {}),
    ...(r.qos !== undefined ? { qosClass: r.qos } : {}),
    service: r.service, strategy: r.paths.strategy,
    preferred: r.paths.preferred.length ? [...r.paths.preferred] : [...attached],
    perPacket: r.paths.perPacket,
  }));

  const slaClasses: Bundle['slaClasses'] = Object.values(intent.slaClasses).sort((a, b) => a.id - b.id).map((s) => ({
    name: s.name, id: s.id, latencyMs: s.latency, jitterMs: s.jitter, loss: s.loss, fallback: s.fallback,
  }));
  const qosClasses: Bundle['qosClasses'] = Object.values(intent.qosClasses).sort((a, b) => a.id - b.id).map((q) => ({
    name: q.name, id: q.id, priority: q.priority, weight: q.weight, ...(q.dscp !== undefined ? { dscp: q.dscp } : {}),
    classIds: [], // per edge, from the rules it carries (compile.ts)
  }));
  return { classifier, rules, slaClasses, qosClasses };
}

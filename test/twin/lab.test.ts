import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseLab, loadLab, labInventory } from '../../twin/index.ts';
import { readFileSync } from 'node:fs';
import { isInputError, Inventory, parseYaml } from '../../dataplane/index.ts';

function fails(text: string): string {
  try {
    parseLab(text, 'labs/t.yaml');
  } catch (e) {
    if (isInputError(e)) return e.message;
    throw e;
  }
  throw new Error('expected an InputError');
}

const base = (extra = '') => `name: t
topology:
  nodes:
    e1: { kind: edge, site: s1 }
    h1: { kind: host }
    w: { kind: wan, wan: { subnet: 172.16.0.0/24 } }
  links:
    - endpoints: ["e1:wan0", "w:p1"]
${extra}`;

test('nodes inherit defaults, then kind, then group, then their own fields', () => {
  const lab = parseLab(`name: inh
topology:
  defaults: { labels: { a: d, b: d, c: d, x: d }, sysctls: { net.ipv4.tcp_ecn: 1 } }
  kinds: { host: { labels: { b: k, c: k, x: k } } }
  groups: { g: { labels: { c: g, x: g }, gateway: 10.0.0.1 } }
  nodes:
    h1: { kind: host, group: g, labels: { x: n } }
    h2: { kind: host }
  links:
    - endpoints: [{ node: h1, interface: eth0, ipv4: 10.0.0.2/24 }, "h2:eth0"]
`, 'labs/inh.yaml');
  assert.equal(lab.nodes.h1!.labels, { a: 'd', b: 'k', c: 'g', x: 'n' });
  assert.is(lab.nodes.h1!.gateway, '10.0.0.1');
  assert.equal(lab.nodes.h2!.labels, { a: 'd', b: 'k', c: 'k', x: 'k' });
  assert.equal(lab.nodes.h2!.sysctls, { 'net.ipv4.tcp_ecn': '1' });
  assert.is(lab.links[0]!.endpoints[1].interface, 'eth0');
});

test('a group can give the kind', () => {
  const lab = parseLab(`name: g\ntopology:\n  groups: { hosts: { kind: host } }\n  nodes:\n    a: { group: hosts }\n    b: { group: hosts }\n  links:\n    - endpoints: ["a:e", "b:e"]\n`, 'g.yaml');
  assert.is(lab.nodes.a!.kind, 'host');
});

test('bridge clouds hand out host addresses, routed clouds a /30 per link with a gateway', () => {
  const lab = loadLab('labs/two-site-dual-wan/lab.yaml');
  const ep = (n: string, i: string) => lab.links.flatMap((l) => l.endpoints).find((e) => e.node === n && e.interface === i)!;
  assert.is(ep('edge1', 'wan0').ipv4, '172.16.0.1/24');
  assert.is(ep('edge2', 'wan0').ipv4, '172.16.0.2/24');
  assert.is(ep('mpls', 'p1').ipv4, undefined);
  assert.is(ep('edge1', 'wan1').ipv4, '100.64.0.2/30');
  assert.is(ep('edge1', 'wan1').gateway, '100.64.0.1');
  assert.is(ep('inet', 'p2').ipv4, '100.64.0.5/30');
  assert.is(ep('edge2', 'wan1').gateway, '100.64.0.5');
});

test('the inventory of a lab lists edges with WAN attachments by transport colour', () => {
  const inv = labInventory(loadLab('labs/two-site-dual-wan/lab.yaml'));
  assert.is(inv.source, 'lab:two-site-dual-wan');
  assert.equal(inv.edges.map((e) => [e.node, e.site]), [['edge1', 's1'], ['edge2', 's2']]);
  const e1 = inv.edges[0]!.interfaces;
  assert.equal(e1.map((i) => [i.name, i.role, i.transport ?? '-', i.gateway ?? '-']), [
    ['lan0', 'lan', '-', '-'], ['wan0', 'wan', 'mpls', '-'], ['wan1', 'wan', 'inet', '100.64.0.1'],
  ]);
});

test('the lab-derived inventory equals the compiler fixture for the same lab', () => {
  const fixture = Inventory.parse(parseYaml(readFileSync('test/controller/fixtures/two-site-dual-wan/inventory.yaml', 'utf8'), 'inventory.yaml').data);
  const derived = labInventory(loadLab('labs/two-site-dual-wan/lab.yaml'));
  const byName = (inv: typeof derived) => inv.edges.map((e) => ({ ...e, interfaces: [...e.interfaces].sort((a, b) => a.name.localeCompare(b.name)) }));
  assert.equal(byName(derived), byName(fixture));
});

test('link impairment parses units and applies to both directions unless an endpoint overrides it', () => {
  const lab = parseLab(base(`    - endpoints: [{ node: h1, interface: eth0, impair: { delay: 5ms } }, "e1:lan0"]\n      impair: { delay: 20ms, loss: 1%, rate: 10mbit }\n`), 'i.yaml');
  const [a, b] = lab.links[1]!.endpoints;
  assert.equal(a.impair, { delay: 5, loss: 0.01, rate: 10e6 });
  assert.equal(b.impair, { delay: 20, loss: 0.01, rate: 10e6 });
});

test('rejects a link to an undefined node, listing the known ones', () => {
  assert.is(fails(base('    - endpoints: ["e9:x", "h1:eth0"]\n')),
    'labs/t.yaml:9: topology.links[1].endpoints[0]: node "e9" is not defined (known: e1, h1, w)');
});

test('rejects unknown keys with the key path and line', () => {
  assert.is(fails(base().replace('h1: { kind: host }', 'h1: { kind: host, colour: red }')),
    'labs/t.yaml:5: topology.nodes.h1: unknown key "colour"');
});

test('rejects an endpoint used twice', () => {
  assert.match(fails(base('    - endpoints: ["e1:wan0", "h1:eth0"]\n')), 'topology.links[1].endpoints[0]: endpoint "e1:wan0" is already used by topology.links[0]');
});

test('rejects bad units in an impairment', () => {
  assert.match(fails(base('      impair: { delay: 20 parsecs }\n')), 'topology.links[0].impair.delay: expected a duration like "20ms", got "20 parsecs"');
});

test('rejects an edge without a site and a wan node without a wan block', () => {
  const m = fails(`name: t\ntopology:\n  nodes:\n    e1: { kind: edge }\n    w: { kind: wan }\n`);
  assert.match(m, 'topology.nodes.e1.site: an edge node needs a site');
  assert.match(m, 'topology.nodes.w.wan: a wan node needs a wan block');
});

test('rejects an unknown kind, a bad interface name, a bad lab name and malformed YAML', () => {
  assert.match(fails(base().replace('kind: host', 'kind: switch')), 'topology.nodes.h1.kind:');
  assert.match(fails(base('    - endpoints: ["h1:this-name-is-too-long", "e1:lan0"]\n')), 'topology.links[1].endpoints[0]: interface "this-name-is-too-long": expected 1–15');
  assert.match(fails(base().replace('name: t', 'name: Bad_Name')), 'labs/t.yaml:1: name: expected 1–32 lower-case');
  assert.match(fails('name: t\ntopology: {nodes: [\n'), 'labs/t.yaml:');
});

test('a missing file is an input error naming the file', () => {
  try { loadLab('labs/nope/lab.yaml'); assert.unreachable(); } catch (e) {
    assert.ok(isInputError(e));
    assert.match((e as Error).message, /^labs\/nope\/lab\.yaml: \(top level\): cannot read file/);
  }
});

test.run();

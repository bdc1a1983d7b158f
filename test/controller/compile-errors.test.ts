import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isInputError } from '../../dataplane/validate.ts';
import type { Inventory } from '../../dataplane/inventory.ts';
import { compile, parseIntent } from '../../controller/index.ts';
import { compileText, edit, errorOf, fixture } from './fixtures.ts';

const lab = fixture('two-site-dual-wan');
const FILE = 'labs/two-site-dual-wan/intent.yaml';
const withEdges = (edges: Inventory['edges']): Inventory => ({ ...lab.inventory, edges });

test('an inventory edge on a site the intent lacks names the intent file and the known sites', () => {
  const inv = withEdges([...lab.inventory.edges, { ...lab.inventory.edges[1]!, node: 'edge9', site: 's9' }]);
  const e = errorOf(() => compileText(lab.intentText, inv, FILE));
  assert.is(e, `${FILE}: sites: site "s9" of inventory edge "edge9" is not defined (known: s1, s2)`);
});

test('an intent site without an inventory edge names the site and the edges there are', () => {
  const e = errorOf(() => compileText(lab.intentText, withEdges([lab.inventory.edges[0]!]), FILE));
  assert.is(e, `${FILE}: sites.s2: no inventory edge belongs to this site (inventory edges: edge1 (s1))`);
});

test('a rule naming a transport no inventory edge attaches to names the rule, the index and what is attached', () => {
  const text = edit(edit(lab.intentText, '  inet:\n    type: public', '  lte:\n    role: last-resort\n  inet:\n    type: public'),
    'paths: { preferred: [mpls, inet] }\n  - name: everything-else', 'paths: { preferred: [mpls, lte, inet] }\n  - name: everything-else');
  const e = errorOf(() => compileText(text, lab.inventory, FILE));
  assert.is(e, `${FILE}: rules[0].paths.preferred[1]: transport "lte" is not attached to any edge in the inventory (attached: inet, mpls)`);
});

test('compile errors are InputErrors with exit code 2', () => {
  try {
    compile(withEdges([]), parseIntent(lab.intentText, FILE), { intentFile: FILE });
    assert.unreachable();
  } catch (e) {
    assert.ok(isInputError(e));
    assert.is(e.exitCode, 2);
    assert.is(e.file, FILE);
    assert.equal(e.issues.map((i) => i.path), [['sites', 's1'], ['sites', 's2']]);
  }
});

test('an invalid inventory is reported against the inventory source', () => {
  const bad = { source: 'x', edges: [{ node: 'edge1', site: 's1', interfaces: [{ name: 'wan0', role: 'uplink' }] }] } as unknown as Inventory;
  const e = errorOf(() => compile(bad, parseIntent(lab.intentText, FILE), { intentFile: FILE, inventoryFile: 'lab:two-site-dual-wan' }));
  assert.match(e, /^lab:two-site-dual-wan: edges\[0\]\.interfaces\[0\]\.role: /);
  const dup = withEdges([lab.inventory.edges[0]!, lab.inventory.edges[0]!]);
  assert.is(errorOf(() => compile(dup, parseIntent(lab.intentText, FILE), { inventoryFile: 'inv.json' })),
    'inv.json: edges[1].node: edge "edge1" is listed twice (first at edges[0])');
});

test('a WAN interface on a transport the intent does not define is a warning, and the interface is left out', () => {
  const e1 = lab.inventory.edges[0]!;
  const inv = withEdges([{ ...e1, interfaces: [...e1.interfaces, { name: 'wan2', role: 'wan', transport: 'sat', ipv4: ['192.0.2.2/24'], ipv6: [], mtu: 1500 }] }, lab.inventory.edges[1]!]);
  const r = compileText(lab.intentText, inv, FILE);
  assert.equal(r.warnings, ['edge1: WAN interface wan2 attaches to transport "sat", which the intent does not define (known: inet, mpls); it is ignored']);
  assert.equal(r.bundles.get('edge1')!.bundle.interfaces.wan.map((w) => w.name), ['wan0', 'wan1']);
});

test('two sites without a compatible transport pair get a warning and no route to each other', () => {
  const [e1, e2] = lab.inventory.edges as [Inventory['edges'][0], Inventory['edges'][0]];
  const inv = withEdges([{ ...e1, interfaces: e1.interfaces.filter((i) => i.name !== 'wan1') }, { ...e2, interfaces: e2.interfaces.filter((i) => i.name !== 'wan0') }]);
  const r = compileText(lab.intentText, inv, FILE);
  assert.equal(r.warnings, [
    'edge1 ↔ edge2: no compatible transport pair (edge1: mpls; edge2: inet); their traffic goes through a hub if one is reachable',
    'edge1: segment default: no path to site s2, directly or through a hub; its prefixes are left out',
    'edge2: segment default: no path to site s1, directly or through a hub; its prefixes are left out',
  ]);
  assert.equal(r.bundles.get('edge1')!.bundle.paths, []);
});

test.run();

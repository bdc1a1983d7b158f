import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { FIXTURES, compileText, fixture, goldenDir } from './fixtures.ts';

// UPDATE_GOLDEN=1 npx tsx test/controller/golden.test.ts rewrites the golden files from the compiler.
const update = process.env.UPDATE_GOLDEN === '1';
const text = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

for (const name of Object.keys(FIXTURES)) {
  test(`the ${name} fixture compiles to its golden bundles`, () => {
    const f = fixture(name);
    const r = compileText(f.intentText, f.inventory, f.intentFile);
    const dir = `${goldenDir}/${name}`;
    const expected = new Map<string, string>([['warnings.json', text(r.warnings)]]);
    for (const [node, b] of r.bundles) expected.set(`${node}.bundle.json`, text({ hash: b.hash, bundle: b.bundle }));
    if (update) {
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      for (const [file, content] of expected) writeFileSync(`${dir}/${file}`, content);
    }
    assert.ok(existsSync(dir), `no golden files for ${name}: run with UPDATE_GOLDEN=1`);
    assert.equal(readdirSync(dir).sort(), [...expected.keys()].sort(), 'golden file set (UPDATE_GOLDEN=1 rewrites)');
    for (const [file, content] of expected) {
      assert.fixture(content, readFileSync(`${dir}/${file}`, 'utf8'), `${name}/${file} (UPDATE_GOLDEN=1 rewrites)`);
    }
  });
}

test('the lab edges reach each other over MPLS on-link and over the internet through their gateways', () => {
  const f = fixture('two-site-dual-wan');
  const { bundles, warnings } = compileText(f.intentText, f.inventory, f.intentFile);
  assert.equal(warnings, []);
  const e1 = bundles.get('edge1')!.bundle;
  assert.equal(e1.paths.map((p) => [p.id, p.localInterface, p.transport, p.remoteTransport, p.remoteAddress, p.gateway ?? null]), [
    [1, 'wan0', 'mpls', 'mpls', '172.16.0.2', null],
    [2, 'wan1', 'inet', 'inet', '100.64.0.6', '100.64.0.1'],
  ]);
  const e2 = bundles.get('edge2')!.bundle;
  assert.equal(e2.paths.map((p) => [p.remoteAddress, p.gateway ?? null]), [['172.16.0.1', null], ['100.64.0.2', '100.64.0.5']]);
  assert.equal(e1.segments, [{ name: 'default', id: 1, routes: [
    { prefix: '10.1.0.0/24', kind: 'local', interface: 'lan0' },
    { prefix: '10.2.0.0/24', kind: 'remote', site: 's2', siteId: 2, via: 's2' },
  ] }]);
  assert.equal(e1.rules.map((r) => [r.name, r.appClass, r.slaClass ?? null, r.preferred]), [
    ['voice', 'voip', 'voice', ['mpls', 'inet']],
    ['everything-else', 'default', null, ['mpls', 'inet']],
  ]);
  assert.equal(e1.classifier.map((c) => [c.appClass, c.classId, c.priority, c.protocol, c.dstPorts, c.dscp]), [
    ['voip', 1, 1, 'udp', [[16384, 32767]], [46]],
    ['default', 0, 2, 'any', [], []],
  ]);
});

test('hub-spoke: spokes reach each other through the hub, and a pair without a common colour gets no path', () => {
  const f = fixture('hub-spoke');
  const { bundles } = compileText(f.intentText, f.inventory, f.intentFile);
  const br2 = bundles.get('br2-edge')!.bundle;
  // br2 has internet and LTE; the hub's MPLS is restricted, so only its internet link is a peer address.
  assert.equal(br2.paths.map((p) => [p.peerNode, p.transport, p.remoteTransport, p.role, p.mtu]), [
    ['hq-edge', 'inet', 'inet', 'active', 1500],
    ['hq-edge', 'lte', 'inet', 'last-resort', 1420],
  ]);
  const toBr3 = br2.segments.find((s) => s.name === 'default')!.routes.find((r) => r.site === 'br3')!;
  assert.equal(toBr3, { prefix: '10.3.0.0/24', kind: 'remote', site: 'br3', siteId: 3, via: 'hq' });
  assert.equal(br2.segments.map((s) => s.name), ['default', 'guest'], 'br2 carries only its own segments');
  assert.equal(bundles.get('hq-edge')!.bundle.segments.map((s) => s.name), ['default', 'guest', 'pci'], 'the hub carries every segment');
  const guest = br2.segments.find((s) => s.name === 'guest')!;
  assert.equal(guest.routes[0], { prefix: '0.0.0.0/0', kind: 'internet' });
  const corp = br2.segments.find((s) => s.name === 'default')!;
  assert.equal(corp.routes[0], { prefix: '0.0.0.0/0', kind: 'remote', site: 'hq', siteId: 4, via: 'hq' });
  assert.equal(br2.interfaces.lan.map((l) => [l.name, l.segment, l.vlan ?? null]), [['lan0', 'default', null], ['lan1', 'guest', 100]]);
  assert.equal(br2.rules.map((r) => r.name), ['voice', 'conferencing', 'guest-internet', 'corporate']);
  assert.equal(br2.rules.at(-1)!.preferred, ['inet', 'mpls', 'lte'], 'an empty preferred list means every attached transport, active first');
  assert.equal(br2.slaClasses.map((s) => s.name), ['video', 'voice'], 'only the SLA classes its rules use');
  assert.equal(bundles.get('br3-edge')!.bundle.paths.map((p) => p.mtu), [1400]);
});

test('the classifier lists classes in rule order, unreferenced ones by name, and the default class last', () => {
  const f = fixture('hub-spoke');
  const c = compileText(f.intentText, f.inventory, f.intentFile).bundles.get('hq-edge')!.bundle.classifier;
  assert.equal(c.map((r) => [r.priority, r.appClass, r.classId]), [
    [1, 'voip', 2], [2, 'voip', 2], [3, 'conferencing', 20], [4, 'conferencing', 20], [5, 'payments', 1], [6, 'default', 0],
  ]);
  assert.equal(c[2]!.dscp, [34, 34]);
  assert.equal(c[4]!.dstPorts, [[8443, 8443], [9000, 9010]]);
  assert.equal(c[4]!.srcPrefixes, ['10.251.0.0/24']);
});

test.run();

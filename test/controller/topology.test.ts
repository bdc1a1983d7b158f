import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Inventory } from '../../dataplane/inventory.ts';
import { compatible, peering } from '../../controller/compiler/index.ts';
import { parseIntent, type Transport } from '../../controller/index.ts';
import { compileText } from './fixtures.ts';

const t = (name: string, over: Partial<Transport> = {}): Transport =>
  ({ name, colour: name, type: 'public', restrict: false, role: 'active', metered: false, ...over });

test('tunnels join the same colour always, different colours only between unrestricted public transports', () => {
  const mpls = t('mpls', { type: 'private', restrict: true });
  const mpls2 = t('mpls-b', { colour: 'mpls', type: 'private', restrict: true });
  const inet = t('inet'), lte = t('lte'), gold = t('gold', { restrict: true });
  const priv = t('priv', { type: 'private' });
  assert.ok(compatible(mpls, mpls2), 'same colour');
  assert.ok(compatible(inet, lte), 'two public, unrestricted');
  assert.not.ok(compatible(mpls, inet), 'restricted');
  assert.not.ok(compatible(gold, inet), 'restricted public');
  assert.not.ok(compatible(priv, inet), 'private, unrestricted');
  assert.ok(compatible(gold, t('gold2', { colour: 'gold' })), 'restricted but same colour');
});

// A hub in eu, two eu branches, one us branch; every edge has one internet link.
const sites = { hq: 'eu', a1: 'eu', a2: 'eu', b1: 'us' } as const;
const inventory: Inventory = {
  source: 'test',
  edges: Object.keys(sites).map((s, i) => ({
    node: `${s}-edge`, site: s,
    interfaces: [
      { name: 'wan0', role: 'wan' as const, transport: 'inet', ipv4: [`198.51.100.${4 * i + 2}/30`], ipv6: [], gateway: `198.51.100.${4 * i + 1}`, mtu: 1500 },
      { name: 'lan0', role: 'lan' as const, ipv4: [`10.${i}.0.1/24`], ipv6: [], mtu: 1500 },
    ],
  })),
};
const intent = (policy: string, onDemand = false) => `apiVersion: patronus.dev/v1
name: topo
transports: { inet: {} }
sites:
${Object.entries(sites).map(([s, region], i) => `  ${s}: { region: ${region}, lanPrefixes: [10.${i}.0.0/24]${s === 'hq' ? ', role: hub' : ''} }`).join('\n')}
topology: { policy: ${policy}, onDemand: { enabled: ${onDemand}, idleTimeout: 2m } }
rules: [{ name: all, app: default }]
`;

const peersOf = (text: string, node: string) =>
  compileText(text, inventory).bundles.get(node)!.bundle.paths.map((p) => `${p.peerSite}${p.probe ? '' : ' (on demand)'}`);
const viaOf = (text: string, node: string) => Object.fromEntries(
  compileText(text, inventory).bundles.get(node)!.bundle.segments[0]!.routes.filter((r) => r.kind === 'remote').map((r) => [r.prefix, r.via]));

test('hub-spoke: spokes peer with the hub only and reach other spokes through it', () => {
  assert.equal(peersOf(intent('hub-spoke'), 'a1-edge'), ['hq']);
  assert.equal(peersOf(intent('hub-spoke'), 'hq-edge'), ['a1', 'a2', 'b1']);
  assert.equal(viaOf(intent('hub-spoke'), 'a1-edge'), { '0.0.0.0/0': 'hq', '10.0.0.0/24': 'hq', '10.2.0.0/24': 'hq', '10.3.0.0/24': 'hq' });
});

test('full-mesh: every site peers with every other', () => {
  assert.equal(peersOf(intent('full-mesh'), 'a1-edge'), ['a2', 'b1', 'hq']);
  assert.equal(viaOf(intent('full-mesh'), 'b1-edge')['10.1.0.0/24'], 'a1');
});

test('regional: a full mesh inside a region, and every site with the hubs', () => {
  assert.equal(peersOf(intent('regional'), 'a1-edge'), ['a2', 'hq']);
  assert.equal(peersOf(intent('regional'), 'b1-edge'), ['hq']);
  assert.equal(viaOf(intent('regional'), 'a1-edge'), { '0.0.0.0/0': 'hq', '10.0.0.0/24': 'hq', '10.2.0.0/24': 'a2', '10.3.0.0/24': 'hq' });
});

test('on demand: pairs the policy does not connect get unprobed paths and direct routes', () => {
  assert.equal(peersOf(intent('hub-spoke', true), 'a1-edge'), ['a2 (on demand)', 'b1 (on demand)', 'hq']);
  assert.equal(viaOf(intent('hub-spoke', true), 'a1-edge')['10.3.0.0/24'], 'b1');
});

test('peering is symmetric for every policy', () => {
  for (const policy of ['hub-spoke', 'full-mesh', 'regional']) {
    const i = parseIntent(intent(policy, true), 'x.yaml');
    for (const a of Object.values(i.sites)) for (const b of Object.values(i.sites)) assert.is(peering(i, a, b), peering(i, b, a));
  }
});

test('a spoke prefers a hub in its own region for hairpinned traffic and its default route', () => {
  const text = intent('hub-spoke').replace('b1: { region: us, lanPrefixes: [10.3.0.0/24] }', 'b1: { region: us, lanPrefixes: [10.3.0.0/24], role: hub }');
  // Hubs are hq and b1 (by name: b1 first); a1 in eu hairpins through hq, its regional hub.
  assert.equal(viaOf(text, 'a1-edge'), { '0.0.0.0/0': 'hq', '10.0.0.0/24': 'hq', '10.2.0.0/24': 'hq', '10.3.0.0/24': 'b1' });
});

test.run();

// timeout: 30
/**
 * NAT traversal in the compiler (controller/compiler/nat.ts, paths.ts, compile.ts): which spoke pairs get
 * direct paths once the inventory carries reflexive endpoints, which are left to the hub, what address a
 * NATed peer is dialled at, that reverse paths still pair up across a NAT, and that the inventory schema
 * refuses a malformed `reflexive` by key path. Pure: the labs/nat-traversal inventory with reflexive endpoints
 * filled in by hand, as the twin's bring-up or the controller would.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compile, loadIntent } from '../../controller/index.ts';
import { directPossible, natKind } from '../../controller/compiler/nat.ts';
import { Inventory, type InventoryInterface } from '../../dataplane/inventory.ts';
import { generatePrivateKey, publicKeyOf } from '../../dataplane/wg/index.ts';
import { labInventory, loadLab } from '../../twin/index.ts';

const intentFile = 'labs/nat-traversal/intent.yaml';
const intent = loadIntent(intentFile);
const base = labInventory(loadLab('labs/nat-traversal/lab.yaml'));
type Refl = NonNullable<InventoryInterface['reflexive']>;
const REFL: Record<string, Refl> = {
  s1: { address: '198.51.100.6', port: 40001, mapping: 'endpoint-independent', portPreserving: true },
  s2: { address: '198.51.100.10', port: 31337, mapping: 'endpoint-dependent', portPreserving: false },
  s3: { address: '198.51.100.14', port: 40003, mapping: 'endpoint-independent', portPreserving: true },
};
const withNat = (refl: Record<string, Refl>): Inventory => ({
  ...base,
  edges: base.edges.map((e) => ({
    ...e, wireguardKey: publicKeyOf(generatePrivateKey()),
    interfaces: e.interfaces.map((i) => (i.role === 'wan' && refl[e.node] ? { ...i, reflexive: refl[e.node] } : i)),
  })),
});
const wan = (ipv4: string, reflexive?: Refl): InventoryInterface => ({ name: 'wan0', role: 'wan', ipv4: [ipv4], ipv6: [], mtu: 1500, transport: 'inet', ...(reflexive && { reflexive }) });

test('NAT kinds and the direct-path rule: one public end suffices, two NATed ends need endpoint-independent, port-preserving mappings', () => {
  const pub = wan('198.51.100.2/30');
  const sameAsOwn = wan('198.51.100.2/30', { address: '198.51.100.2', port: 5, mapping: 'endpoint-independent', portPreserving: true });
  const eim = wan('192.168.50.2/30', REFL.s1), edm = wan('10.200.0.2/30', REFL.s2);
  const eimRenumbered = wan('192.168.50.2/30', { ...REFL.s1!, portPreserving: false });
  const unknown = wan('192.168.50.2/30', { ...REFL.s1!, mapping: 'unknown' });
  assert.equal([pub, sameAsOwn, eim, edm, eimRenumbered, unknown].map(natKind), ['none', 'none', 'traversable', 'relay-only', 'relay-only', 'relay-only']);
  assert.ok(directPossible(pub, edm));
  assert.ok(directPossible(edm, sameAsOwn));
  assert.ok(directPossible(eim, eim));
  assert.not.ok(directPossible(eim, edm));
  assert.not.ok(directPossible(edm, edm));
  assert.not.ok(directPossible(eim, eimRenumbered));
  assert.not.ok(directPossible(unknown, eim));
});

test('without reflexive endpoints every pair peers directly at its interface addresses (nothing known about NAT)', () => {
  const { bundles } = compile(withNat({}), intent, { intentFile });
  assert.equal(bundles.get('s2')!.bundle.paths.map((p) => [p.peerNode, p.remoteAddress]), [['hub', '198.51.100.2'], ['s1', '192.168.50.2'], ['s3', '192.168.60.2']]);
});

test('with them: s1 and s3 dial each other\'s reflexive address, s2 keeps only the hub and routes the spokes through it', () => {
  const { bundles, warnings } = compile(withNat(REFL), intent, { intentFile });
  assert.equal(warnings, []);
  const paths = (n: string) => bundles.get(n)!.bundle.paths;
  assert.equal(paths('hub').map((p) => [p.peerNode, p.remoteAddress]), [['s1', '198.51.100.6'], ['s2', '198.51.100.10'], ['s3', '198.51.100.14']]);
  assert.equal(paths('s1').map((p) => [p.peerNode, p.remoteAddress]), [['hub', '198.51.100.2'], ['s3', '198.51.100.14']]);
  assert.equal(paths('s2').map((p) => p.peerNode), ['hub']);
  const routes = (n: string) => Object.fromEntries(bundles.get(n)!.bundle.segments[0]!.routes.filter((r) => r.kind === 'remote' && r.prefix !== '0.0.0.0/0').map((r) => [r.prefix, r.via]));
  assert.equal(routes('s2'), { '10.0.0.0/24': 'hub', '10.1.0.0/24': 'hub', '10.3.0.0/24': 'hub' });
  assert.equal(routes('s1'), { '10.0.0.0/24': 'hub', '10.2.0.0/24': 'hub', '10.3.0.0/24': 's3' });
  assert.equal(routes('hub'), { '10.1.0.0/24': 's1', '10.2.0.0/24': 's2', '10.3.0.0/24': 's3' });
});

test('reverse paths pair up across the NAT, so both ends of every tunnel get ports, /31 and the peer\'s key', () => {
  const inv = withNat(REFL);
  const { bundles } = compile(inv, intent, { intentFile });
  const key = (n: string) => inv.edges.find((e) => e.node === n)!.wireguardKey;
  let checked = 0;
  for (const [node, { bundle }] of bundles) {
    for (const p of bundle.paths) {
      const back = bundles.get(p.peerNode)!.bundle.paths.find((q) => q.id === p.peerPathId)!;
      assert.ok(back, `${node} path ${p.id} has its reverse`);
      assert.is(back.peerNode, node);
      assert.is(p.wireguard!.peerPort, back.wireguard!.listenPort);
      assert.is(p.wireguard!.peerAddress, back.wireguard!.address);
      assert.is(p.wireguard!.peerPublicKey, key(p.peerNode));
      checked++;
    }
  }
  assert.is(checked, 8, 'hub–s1, hub–s2, hub–s3, s1–s3 in both directions');
});

test('a malformed reflexive endpoint is refused by key path', () => {
  const bad = { ...base, edges: [{ ...base.edges[0]!, interfaces: [{ ...base.edges[0]!.interfaces[0]!, reflexive: { address: '198.51.100.6', port: 0, mapping: 'cone', portPreserving: true } }] }] };
  const r = Inventory.safeParse(bad);
  assert.not.ok(r.success);
  const paths = r.error!.issues.map((i) => i.path.join('.')).sort();
  assert.equal(paths, ['edges.0.interfaces.0.reflexive.mapping', 'edges.0.interfaces.0.reflexive.port']);
});

test.run();

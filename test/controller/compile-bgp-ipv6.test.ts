// The compiler with IPv6 (labs/bgp-ipv6): interface IPv6 addresses reach the bundle, IPv6 BGP neighbours
// pass through, and an IPv6 neighbour at a site whose edge has no IPv6 address is an InputError naming
// the intent file and key path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { isInputError } from '../../dataplane/validate.ts';
import type { Inventory } from '../../dataplane/inventory.ts';
import { labInventory, loadLab } from '../../twin/index.ts';
import { compileText, edit, errorOf } from './fixtures.ts';

const FILE = 'labs/bgp-ipv6/intent.yaml';
const inventory = labInventory(loadLab('labs/bgp-ipv6/lab.yaml'));
const intentText = readFileSync(FILE, 'utf8');

test('IPv6 interface addresses and IPv6 neighbours reach the bundle', () => {
  const b = compileText(intentText, inventory, FILE).bundles.get('edge1')!.bundle;
  assert.equal(b.interfaces.wan.map((w) => w.ipv6), [['2001:db8:ff:1::1/64'], ['2001:db8:ff:2::1/64']]);
  assert.equal(b.interfaces.lan.map((l) => l.ipv6), [['2001:db8:1::1/64']]);
  assert.equal(b.bgp.neighbors!.map((n) => `${n.address} ${n.asn}`), ['2001:db8:ff:1::2 65001', '2001:db8:ff:2::2 65002']);
  assert.equal(b.bgp.networks, [{ prefix: '10.1.0.0/24', segment: 'default' }, { prefix: '2001:db8:1::/64', segment: 'default' }]);
});

test('an IPv6 neighbour of a site whose edge has no IPv6 address names the intent file and key path', () => {
  const v4only: Inventory = { ...inventory, edges: inventory.edges.map((e) => ({ ...e, interfaces: e.interfaces.map((i) => ({ ...i, ipv6: [] })) })) };
  let thrown: unknown;
  const msg = errorOf(() => { try { compileText(intentText, v4only, FILE); } catch (e) { thrown = e; throw e; } });
  assert.ok(isInputError(thrown));
  assert.match(msg, `${FILE}: bgp.sites.s1.neighbors[0].address: IPv6 neighbour 2001:db8:ff:1::2, but edge edge1 has no IPv6 interface address`);
  assert.match(msg, 'bgp.sites.s1.neighbors[1].address');
  // IPv4 neighbours need nothing of the kind.
  const text = edit(edit(intentText, '"2001:db8:ff:1::2"', '10.255.0.2'), '"2001:db8:ff:2::2"', '10.255.1.2');
  assert.is(compileText(text, v4only, FILE).bundles.size, 1);
});

test.run();

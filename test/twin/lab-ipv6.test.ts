// Lab files with IPv6 (twin/lab/schema.ts): endpoint addresses are checked per family, with the file,
// line and key path in the error; a dual-stack endpoint's IPv6 address reaches the inventory.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isInputError } from '../../dataplane/validate.ts';
import { labInventory, parseLab } from '../../twin/index.ts';

const lab = (a: string, b: string) => `name: v6\ntopology:\n  nodes:\n    e1: { kind: edge, site: s1 }\n    h1: { kind: host }\n  links:\n    - endpoints: [{ node: e1, interface: lan0, ${a} }, { node: h1, interface: eth0, ${b} }]\n`;

test('an IPv4 address under ipv6 and an IPv6 one under ipv4 are errors naming file, line and key path', () => {
  let err: unknown;
  try { parseLab(lab('ipv6: 10.0.0.1/24', 'ipv4: "2001:db8::2/64"'), 'labs/v6/lab.yaml'); } catch (e) { err = e; }
  assert.ok(isInputError(err));
  const msg = (err as Error).message;
  assert.match(msg, 'labs/v6/lab.yaml:7: topology.links[0].endpoints[0].ipv6: expected an IPv6 address with prefix length like "2001:db8::1/64"');
  assert.match(msg, 'topology.links[0].endpoints[1].ipv4: expected an IPv4 address with prefix length like "10.1.0.1/24"');
});

test('a dual-stack endpoint gives the inventory interface both addresses', () => {
  const l = parseLab(lab('ipv4: 10.1.0.1/24, ipv6: "2001:db8:1::1/64"', 'ipv6: "2001:db8:1::10/64"'), 'lab.yaml');
  const i = labInventory(l).edges[0]!.interfaces[0]!;
  assert.equal({ name: i.name, ipv4: i.ipv4, ipv6: i.ipv6 }, { name: 'lan0', ipv4: ['10.1.0.1/24'], ipv6: ['2001:db8:1::1/64'] });
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadLab, planLab } from '../../twin/index.ts';

const lab = loadLab('labs/two-site-dual-wan/lab.yaml', { rename: 'p' });
const plans = Object.fromEntries(planLab(lab).map((p) => [p.node, p]));

test('every veth is created from its first endpoint with the peer placed in the other namespace', () => {
  assert.equal(plans.edge1!.links, [
    'link add name wan0 mtu 1500 type veth peer name p1 mtu 1500 netns pt.p.mpls',
    'link add name wan1 mtu 1500 type veth peer name p1 mtu 1500 netns pt.p.inet',
  ]);
  assert.equal(plans.host1!.links, ['link add name eth0 mtu 1500 type veth peer name lan0 mtu 1500 netns pt.p.edge1']);
  assert.equal(plans.mpls!.links, []);
  const total = Object.values(plans).reduce((n, p) => n + p.links.length, 0);
  assert.is(total, lab.links.length);
});

test('a bridge cloud enslaves its ports; a routed cloud forwards and addresses them', () => {
  assert.ok(plans.mpls!.setup.includes('link set dev p1 master ptbr0'));
  assert.ok(plans.mpls!.setup.includes('link set dev p2 master ptbr0'));
  assert.is(plans.mpls!.sysctls['net.ipv4.ip_forward'], undefined);
  assert.ok(plans.inet!.setup.includes('address add 100.64.0.5/30 dev p2'));
  assert.is(plans.inet!.sysctls['net.ipv4.ip_forward'], '1');
});

test('edges forward, hosts get their default route after addresses exist', () => {
  assert.is(plans.edge1!.sysctls['net.ipv4.ip_forward'], '1');
  assert.is(plans.edge1!.sysctls['net.ipv4.conf.all.rp_filter'], '0');
  assert.is(plans.host1!.sysctls['net.ipv4.ip_forward'], undefined);
  assert.equal(plans.host1!.routes, ['route replace default via 10.1.0.1']);
  // The routed underlay's gateway becomes a low-preference default route on the edge, like an ISP's DHCP.
  assert.equal(plans.edge1!.routes, ['route replace default via 100.64.0.1 dev wan1 metric 1000']);
  assert.ok(plans.host1!.setup.indexOf('address add 10.1.0.10/24 dev eth0') < plans.host1!.setup.indexOf('link set dev eth0 up'));
});

test.run();

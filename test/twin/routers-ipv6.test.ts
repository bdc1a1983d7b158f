// Router configurations the twin generates (twin/providers/netns/routers.ts) for IPv6: an IPv6 neighbour
// gets an IPv6 unicast session (BIRD `ipv6` channel; FRR activated in ipv6 unicast only), IPv6 networks
// are originated in their family, and IPv4-only routers keep exactly their configuration.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadLab } from '../../twin/index.ts';
import { birdConfig, frrConfig } from '../../twin/providers/netns/index.ts';

const lab = loadLab('labs/bgp-ipv6/lab.yaml');

test('BIRD: an IPv6 neighbour gets an ipv6 channel, IPv6 networks a static protocol, BGP routes a kernel6 export', () => {
  const c = birdConfig(lab, lab.nodes.isp1!);
  assert.match(c, 'protocol kernel kernel6 { ipv6 { import none; export where source = RTS_BGP; }; merge paths on; }');
  assert.match(c, 'protocol static originate6 { ipv6; route 2001:db8:100::/48 unreachable; route 2001:db8:101::/48 unreachable; }');
  assert.not.match(c, 'originate4');
  assert.match(c, /neighbor 2001:db8:ff:1::1 as 65010;[\s\S]*  ipv6 \{ import all; export where source ~ \[RTS_DEVICE, RTS_STATIC, RTS_BGP\]; \};/);
  assert.not.match(c, /^  ipv4 \{/m);
});

test('FRR: an IPv6 neighbour is deactivated in ipv4 unicast and activated in ipv6 unicast with the IPv6 networks', () => {
  const c = frrConfig(lab, lab.nodes.isp2!);
  assert.match(c, ' address-family ipv4 unicast\n  redistribute connected\n  no neighbor 2001:db8:ff:2::1 activate\n exit-address-family\n');
  assert.match(c, ' address-family ipv6 unicast\n  redistribute connected\n  network 2001:db8:200::/48\n  neighbor 2001:db8:ff:2::1 activate\n exit-address-family\n');
});

test('IPv4-only routers get no IPv6 sections', () => {
  const v4 = loadLab('labs/bird-frr-ebgp/lab.yaml');
  assert.not.match(birdConfig(v4, v4.nodes.r1!), /ipv6 \{|kernel6|originate6/);
  const f = frrConfig(v4, v4.nodes.r2!);
  assert.not.match(f, /ipv6 unicast|activate/);
});

test.run();

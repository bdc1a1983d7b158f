// timeout: 60
// IPv6 in the agent's route merge (dataplane/agent/fib.ts) and kernel writer (kernel-routes.ts): next hops
// judged against the bundle's IPv6 subnets, link-local next hops (RFC 2545) preferred as the gateway with
// the interface of the global next hop or of the neighbour, the overlay limit per family (pt_routes4 /
// pt_routes6), the incremental merge agreeing with the full one, and export never passing a link-local
// next hop on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { IncrementalFib, mergeRoutes, OVERLAY_BGP_ROUTE_LIMIT, withOverlayRoutes, type BgpFibRoute } from '../../dataplane/agent/fib.ts';
import { KernelRouteWriter, planKernelRoutes, type RoutePlan } from '../../dataplane/agent/kernel-routes.ts';
import { Bundle } from '../../dataplane/bundle/schema.ts';
import { exportAttributes } from '../../dataplane/bgp/index.ts';
import { fibEntries } from '../../dataplane/xdp/fib.ts';
import * as M from '../../dataplane/xdp/maps.ts';
import { edge1Bundle } from './bundle-fixture.ts';

/** edge1 dual-stack: wan1 2001:db8:ff::2/64 (ISP), lan0 2001:db8:1::1/64. */
function dualStack() {
  const b = edge1Bundle();
  b.interfaces.wan[1]!.ipv6 = ['2001:db8:ff::2/64'];
  b.interfaces.lan[0]!.ipv6 = ['2001:db8:1::1/64'];
  return Bundle.parse(b);
}
const ebgp6 = (prefix: string, nextHop: string, peer: string, nextHopLinkLocal?: string): BgpFibRoute =>
  ({ segment: 'default', prefix, nextHop, peer, ibgp: false, ...(nextHopLinkLocal && { nextHopLinkLocal }) });

test('the bundle takes IPv6 interface addresses and rejects a malformed one with its key path', () => {
  const b = dualStack();
  assert.equal(b.interfaces.wan[1]!.ipv6, ['2001:db8:ff::2/64']);
  const bad = Bundle.safeParse({ ...b, interfaces: { ...b.interfaces, lan: [{ ...b.interfaces.lan[0]!, ipv6: ['2001:db8:1::1'] }] } });
  assert.not.ok(bad.success);
  assert.equal(bad.error!.issues[0]!.path, ['interfaces', 'lan', 0, 'ipv6', 0]);
  assert.is(edge1Bundle().interfaces.wan[0]!.ipv6, undefined, 'IPv4-only bundles are unchanged');
});

test('an IPv6 route with a global next hop on a WAN subnet goes to the kernel via it and into pt_routes6 as internet', () => {
  const b = dualStack();
  const m = mergeRoutes(b, planKernelRoutes(b), [ebgp6('2001:db8:100::/48', '2001:db8:ff::1', '2001:db8:ff::1')]);
  assert.equal(m.kernel.routes.at(-1), { dst: '2001:db8:100::/48', via: '2001:db8:ff::1', dev: 'wan1', table: 'main' });
  assert.equal(m.bgp.installed, [{ segment: 'default', prefix: '2001:db8:100::/48', nextHop: '2001:db8:ff::1', dev: 'wan1', kind: 'internet', source: 'ebgp', peer: '2001:db8:ff::1' }]);
  const env = { ifindex: () => 3, mac: () => '02:00:00:00:00:01', neighbour: () => '02:00:00:00:00:02', peerPathIds: new Map<number, number>() };
  const e = fibEntries(withOverlayRoutes(b, m.overlay), env).maps.pt_routes6;
  assert.is(e.length, 1);
  assert.equal(M.routeKey6.decode(e[0]!.key), { prefixlen: 32 + 48, segment: 1, addr: '2001:db8:100::' });
  assert.is(M.routeVal.decode(e[0]!.value).kind, M.RouteKind.internet);
});

test('a link-local next hop beside the global one is the gateway, on the interface of the global one', () => {
  const b = dualStack();
  const m = mergeRoutes(b, planKernelRoutes(b), [ebgp6('2001:db8:100::/48', '2001:db8:ff::1', '2001:db8:ff::1', 'fe80::1')]);
  assert.equal(m.kernel.routes.at(-1), { dst: '2001:db8:100::/48', via: 'fe80::1', dev: 'wan1', table: 'main' });
  assert.is(m.bgp.installed[0]!.via, 'fe80::1');
});

test('a link-local next hop with a global :: or off-link one uses the interface facing the neighbour', () => {
  const b = dualStack();
  const m = mergeRoutes(b, planKernelRoutes(b), [
    ebgp6('2001:db8:100::/48', '::', '2001:db8:ff::1', 'fe80::1'),
    ebgp6('2001:db8:200::/48', '2001:db8:99::1', '2001:db8:1::fe', 'fe80::2'),
    // A neighbour over IPv4 (nextHop6 on its side) sending only a link-local next hop.
    ebgp6('2001:db8:300::/48', 'fe80::3', '100.64.0.1'),
  ]);
  const k = m.kernel.routes.filter((r) => r.dst.includes(':'));
  assert.equal(k, [
    { dst: '2001:db8:100::/48', via: 'fe80::1', dev: 'wan1', table: 'main' },
    { dst: '2001:db8:200::/48', via: 'fe80::2', dev: 'lan0', table: 'main' },
    { dst: '2001:db8:300::/48', via: 'fe80::3', dev: 'wan1', table: 'main' },
  ]);
  assert.equal(m.overlay.get('default'), [
    { prefix: '2001:db8:100::/48', kind: 'internet' }, { prefix: '2001:db8:200::/48', kind: 'local', interface: 'lan0' }, { prefix: '2001:db8:300::/48', kind: 'internet' },
  ]);
});

test('unusable IPv6 next hops are skipped with the reason; a connected IPv6 subnet shadows BGP', () => {
  const b = dualStack();
  const m = mergeRoutes(b, planKernelRoutes(b), [
    ebgp6('2001:db8:100::/48', '2001:db8:77::1', '2001:db8:77::1'),
    ebgp6('2001:db8:200::/48', '2001:db8:ff:0::2', '2001:db8:ff::1'),
    ebgp6('2001:db8:300::/48', '10.1.0.254', '10.1.0.254'),
    ebgp6('2001:db8:400::/48', '::', '2001:db8:77::1', 'fe80::9'),
    ebgp6('2001:db8:ff::/64', '2001:db8:ff::1', '2001:db8:ff::1'),
  ]);
  assert.equal(m.bgp.installed, []);
  assert.equal(m.bgp.skipped.map((s) => `${s.prefix}: ${s.reason}`), [
    '2001:db8:100::/48: next hop 2001:db8:77::1 is not on a connected IPv6 subnet (IPv6 next hops are not resolved recursively)',
    '2001:db8:200::/48: next hop 2001:db8:ff:0::2 is this edge',
    '2001:db8:300::/48: next hop 10.1.0.254 is not IPv6',
    '2001:db8:400::/48: link-local next hop fe80::9 has no interface: neither the global next hop nor the neighbour 2001:db8:77::1 is on a connected subnet',
    '2001:db8:ff::/64: shadowed by a connected route',
  ]);
});

test('the overlay limit counts each family on its own: IPv6 routes keep their places when IPv4 is full', () => {
  const b = dualStack();
  const n = OVERLAY_BGP_ROUTE_LIMIT + 3;
  const v4 = Array.from({ length: n }, (_, i): BgpFibRoute => ({ segment: 'default', prefix: `11.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32`, nextHop: '100.64.0.1', peer: '100.64.0.1', ibgp: false }));
  const v6 = [ebgp6('2001:db8:100::/48', '2001:db8:ff::1', '2001:db8:ff::1'), ebgp6('2001:db8:200::/48', '2001:db8:ff::1', '2001:db8:ff::1')];
  const m = mergeRoutes(b, planKernelRoutes(b), [...v4, ...v6]);
  const ov = m.overlay.get('default')!;
  assert.is(ov.filter((r) => !r.prefix.includes(':')).length + b.segments[0]!.routes.length, OVERLAY_BGP_ROUTE_LIMIT);
  assert.equal(ov.filter((r) => r.prefix.includes(':')).map((r) => r.prefix), ['2001:db8:100::/48', '2001:db8:200::/48']);
  const inc = new IncrementalFib(b, planKernelRoutes(b), [...v4, ...v6]);
  assert.is(inc.overlayOmitted, m.bgp.overlayOmitted);
  assert.equal(inc.overlay(), m.overlay);
});

test('the incremental merge installs, moves and withdraws IPv6 routes as the full merge does', () => {
  const b = dualStack();
  const plan = planKernelRoutes(b);
  const table = new Map<string, BgpFibRoute>();
  const inc = new IncrementalFib(b, plan, []);
  const step = (prefix: string, route?: BgpFibRoute) => {
    if (route) table.set(prefix, route); else table.delete(prefix);
    const d = inc.update([{ segment: 'default', prefix, ...(route && { route }) }]);
    assert.equal(inc.merged(), mergeRoutes(b, plan, [...table.values()]));
    return d;
  };
  let d = step('2001:db8:100::/48', ebgp6('2001:db8:100::/48', '2001:db8:ff::1', '2001:db8:ff::1', 'fe80::1'));
  assert.equal(d, { upsert: [{ dst: '2001:db8:100::/48', via: 'fe80::1', dev: 'wan1', table: 'main' }], remove: [], overlayChanged: true,
    overlay: { upsert: [{ segment: 'default', route: { prefix: '2001:db8:100::/48', kind: 'internet' } }], remove: [] } });
  d = step('2001:db8:100::/48', ebgp6('2001:db8:100::/48', '2001:db8:1::fe', '2001:db8:1::fe'));
  assert.equal(d, { upsert: [{ dst: '2001:db8:100::/48', via: '2001:db8:1::fe', dev: 'lan0', table: 'main' }], remove: [], overlayChanged: true,
    overlay: { upsert: [{ segment: 'default', route: { prefix: '2001:db8:100::/48', kind: 'local', interface: 'lan0' } }], remove: [{ segment: 'default', route: { prefix: '2001:db8:100::/48', kind: 'internet' } }] } });
  step('2001:db8:200::/48', ebgp6('2001:db8:200::/48', '2001:db8:77::1', '2001:db8:77::1'));
  d = step('2001:db8:100::/48');
  assert.equal(d, { upsert: [], remove: [{ dst: '2001:db8:100::/48', via: '2001:db8:1::fe', dev: 'lan0', table: 'main' }], overlayChanged: true,
    overlay: { upsert: [], remove: [{ segment: 'default', route: { prefix: '2001:db8:100::/48', kind: 'local' } }] } });
  assert.is(inc.installedCount, 0);
});

test('the link-local next hop a route came with is never exported, to eBGP or iBGP peers', () => {
  // (The codec's 32-byte next hop is fixture testdata/bgp/fixtures/update-mp-ipv6.hex; the speaker puts its
  // second half in nextHopLinkLocal — end to end against FRR in test/labs/bgp-ipv6.test.ts.)
  const route = { prefix: '2001:db8:100::/48', peer: { id: '2001:db8:ff::1', asn: 65001, routerId: '10.0.0.1', ibgp: false }, attrs: { origin: 0 as const, asPath: [{ type: 2 as const, asns: [65001] }], nextHop: '2001:db8:ff::1', nextHopLinkLocal: 'fe80::1' } };
  for (const ibgp of [false, true]) {
    const out = exportAttributes(route as never, { id: '2001:db8:ee::1', asn: ibgp ? 65010 : 65002, routerId: '10.0.0.3', ibgp } as never, { localAsn: 65010, routerId: '10.0.0.2', nextHop4: '10.0.0.2', nextHop6: '2001:db8:ee::2' });
    assert.ok(out, ibgp ? 'iBGP' : 'eBGP');
    assert.is(out!.nextHopLinkLocal, undefined, ibgp ? 'iBGP' : 'eBGP');
    assert.is(out!.nextHop, ibgp ? '2001:db8:ff::1' : '2001:db8:ee::2');
  }
});

test('the kernel writer installs and removes IPv6 routes, link-local gateways included, and reads them back in full (in a namespace of its own)', async () => {
  const ns = `pt.krw6${process.pid}`;
  const ip = (...a: string[]) => execFileSync('ip', ['-n', ns, ...a]).toString();
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    ip('link', 'add', 'wan0', 'type', 'veth', 'peer', 'name', 'wan0p');
    ip('addr', 'add', '2001:db8:ff::2/64', 'dev', 'wan0', 'nodad');
    ip('link', 'set', 'wan0', 'up');
    ip('link', 'set', 'wan0p', 'up');
    ip('-6', 'route', 'add', '2001:db8:dead::/48', 'via', '2001:db8:ff::1', 'proto', '250'); // stale, from "before a restart"
    const mine = () => ip('-6', 'route', 'show', 'proto', '250').trim().split('\n').filter(Boolean).map((l) => l.replace(/ metric.*$/, ''));
    const plan = (routes: RoutePlan['routes']): RoutePlan => ({ routes, rules: [], skipped: [] });
    const a = { dst: '2001:db8:100::/48', via: 'fe80::1', dev: 'wan0', table: 'main' as const };
    const host = { dst: '2001:db8:77::1/128', via: '2001:db8:ff::1', dev: 'wan0', table: 'main' as const };
    const dflt = { dst: '::/0', via: '2001:db8:ff::1', dev: 'wan0', table: 'main' as const };
    const w = new KernelRouteWriter({ netns: ns });
    const first = await w.write(plan([a, host, dflt]));
    assert.equal({ ...first, ms: 0 }, { mode: 'full', replaced: 3, added: 0, deleted: 1, ms: 0 });
    assert.equal(mine().sort(), ['2001:db8:100::/48 via fe80::1 dev wan0', '2001:db8:77::1 via 2001:db8:ff::1 dev wan0', 'default via 2001:db8:ff::1 dev wan0']);
    // A full rewrite reads the host route and ::/0 back under the keys they were written with: nothing deleted.
    const again = await w.write(plan([a, host, dflt]), { full: true });
    assert.is(again.deleted, 0);
    assert.is(mine().length, 3);
    const wd = await w.writeChanges({ upsert: [], remove: [a] }, () => plan([host, dflt]));
    assert.equal({ ...wd, ms: 0 }, { mode: 'diff', replaced: 0, added: 0, deleted: 1, ms: 0 });
    assert.is(mine().length, 2);
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
});

test.run();

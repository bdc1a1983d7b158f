// timeout: 30
// The agent's route merge (dataplane/agent/fib.ts): precedence connected > bundle > eBGP > iBGP, next-hop
// checks, overlay route kinds, withdrawal through the kernel sync; and the BGP batching in agent/bgp.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IncrementalFib, mergeRoutes, OVERLAY_BGP_ROUTE_LIMIT, sameOverlay, updateInSlices, withOverlayRoutes, type BgpFibChange, type BgpFibRoute, type FibDelta } from '../../dataplane/agent/fib.ts';
import { AgentBgp, bgpConfigOf, type BgpEvent } from '../../dataplane/agent/bgp.ts';
import { diffRoutes, planKernelRoutes, routeBatch, routeKey } from '../../dataplane/agent/kernel-routes.ts';
import { Bundle, type BundleRoute } from '../../dataplane/bundle/schema.ts';
import { fibEntries } from '../../dataplane/xdp/fib.ts';
import * as M from '../../dataplane/xdp/maps.ts';
import { edge1Bundle } from './bundle-fixture.ts';

const ebgp = (prefix: string, nextHop: string, segment = 'default'): BgpFibRoute => ({ segment, prefix, nextHop, peer: nextHop, ibgp: false });

function twoSegments() {
  const b = edge1Bundle();
  b.interfaces.lan.push({ name: 'lan1', segment: 'blue', ipv4: ['10.9.0.1/24'] });
  b.segments.push({ name: 'blue', id: 7, routes: [{ prefix: '10.9.0.0/24', kind: 'local', interface: 'lan1' }] });
  return b;
}

test('an eBGP route via a LAN router is installed in the kernel and as a local overlay route', () => {
  const b = edge1Bundle();
  const m = mergeRoutes(b, planKernelRoutes(b), [ebgp('192.168.50.0/24', '10.1.0.254')]);
  assert.equal(m.kernel.routes.at(-1), { dst: '192.168.50.0/24', via: '10.1.0.254', dev: 'lan0', table: 'main' });
  assert.equal(m.overlay.get('default'), [{ prefix: '192.168.50.0/24', kind: 'local', interface: 'lan0' }]);
  assert.equal(m.bgp.installed, [{ segment: 'default', prefix: '192.168.50.0/24', nextHop: '10.1.0.254', dev: 'lan0', kind: 'local', source: 'ebgp', peer: '10.1.0.254' }]);
  assert.equal(m.bgp.skipped, []);
});

test('a route via a WAN neighbour becomes an internet overlay route on that WAN', () => {
  const b = edge1Bundle();
  const m = mergeRoutes(b, planKernelRoutes(b), [ebgp('0.0.0.0/0', '100.64.0.1')]);
  assert.equal(m.kernel.routes.at(-1), { dst: '0.0.0.0/0', via: '100.64.0.1', dev: 'wan1', table: 'main' });
  assert.equal(m.overlay.get('default'), [{ prefix: '0.0.0.0/0', kind: 'internet' }]);
});

test('connected subnets and bundle routes win over BGP for the same prefix', () => {
  const b = edge1Bundle();
  const plan = planKernelRoutes(b);
  const m = mergeRoutes(b, plan, [
    ebgp('10.1.0.0/24', '172.16.0.9'), // the LAN itself
    ebgp('100.64.0.0/30', '172.16.0.9'), // a WAN subnet
    ebgp('10.2.0.0/24', '172.16.0.9'), // remote site from the bundle
    ebgp('10.66.0.0/16', '172.16.0.9'), // bundle blackhole
    ebgp('100.64.0.6/32', '172.16.0.9'), // underlay host route to a peer
  ]);
  assert.equal(m.kernel.routes, plan.routes, 'no BGP route added');
  assert.equal(m.overlay.size, 0);
  assert.equal(m.bgp.skipped.map((s) => `${s.prefix} ${s.reason}`), [
    '10.1.0.0/24 shadowed by a connected route',
    '10.2.0.0/24 shadowed by a bundle route',
    '10.66.0.0/16 shadowed by a bundle route',
    '100.64.0.0/30 shadowed by a connected route',
    '100.64.0.6/32 shadowed by a bundle route',
  ]);
});

test('a more-specific BGP prefix inside a bundle route is installed (longest prefix decides in the lookup)', () => {
  const b = edge1Bundle();
  const m = mergeRoutes(b, planKernelRoutes(b), [ebgp('10.2.0.128/25', '172.16.0.9'), ebgp('10.66.1.0/24', '172.16.0.9')]);
  assert.equal(m.bgp.installed.map((r) => `${r.prefix} ${r.dev} ${r.kind}`), ['10.2.0.128/25 wan0 internet', '10.66.1.0/24 wan0 internet']);
});

test('iBGP ranks below every other source and is installed like eBGP when nothing else holds the prefix', () => {
  const b = edge1Bundle();
  const m = mergeRoutes(b, planKernelRoutes(b), [
    { segment: 'default', prefix: '10.2.0.0/24', nextHop: '10.1.0.7', peer: '10.1.0.7', ibgp: true },
    { segment: 'default', prefix: '10.77.0.0/16', nextHop: '10.1.0.7', peer: '10.1.0.7', ibgp: true },
  ]);
  assert.equal(m.bgp.installed.map((r) => `${r.prefix} ${r.source}`), ['10.77.0.0/16 ibgp']);
  assert.equal(m.bgp.skipped.map((r) => `${r.prefix} ${r.reason}`), ['10.2.0.0/24 shadowed by a bundle route']);
});

test('own networks, unusable next hops, IPv6 and unknown segments are reported, not installed', () => {
  const b = edge1Bundle();
  const m = mergeRoutes(b, planKernelRoutes(b), [
    { segment: 'default', prefix: '10.1.0.0/16', ibgp: false }, // originated here
    ebgp('10.50.0.0/16', '192.0.2.1'), // multi-hop next hop
    ebgp('10.51.0.0/16', '10.1.0.1'), // our own LAN address
    { segment: 'default', prefix: '2001:db8::/32', nextHop: 'fe80::1', peer: 'fe80::1', ibgp: false },
    ebgp('10.52.0.0/16', '10.1.0.9', 'red'),
  ]);
  assert.equal(m.bgp.installed, []);
  assert.is(m.bgp.originated, 1);
  assert.equal(m.bgp.skipped.map((r) => r.prefix).sort(), ['10.50.0.0/16', '10.51.0.0/16', '10.52.0.0/16', '2001:db8::/32']);
  assert.match(m.bgp.skipped.find((r) => r.prefix === '10.50.0.0/16')!.reason, /neither on a connected subnet nor covered by a route/);
});

test('a batch whose overlay routes did not change is recognised (the agent then leaves the maps alone)', () => {
  const b = edge1Bundle();
  const m = (rs: BgpFibRoute[]) => mergeRoutes(b, planKernelRoutes(b), rs).overlay;
  const base = [ebgp('192.168.50.0/24', '10.1.0.254'), ebgp('198.18.0.0/16', '100.64.0.1')];
  assert.ok(sameOverlay(m(base), m([...base].reverse())));
  assert.ok(sameOverlay(m(base), m([base[0]!, ebgp('198.18.0.0/16', '172.16.0.9')])), 'an internet route moving between WANs: same map entry (the kernel route changes)');
  assert.not.ok(sameOverlay(m(base), m(base.slice(0, 1))), 'a withdrawn route');
  assert.not.ok(sameOverlay(m(base), m([ebgp('192.168.50.0/24', '100.64.0.1'), ebgp('198.18.0.0/16', '100.64.0.1')])), 'a route moving from a LAN to a WAN changes its kind');
});

const ibgp = (prefix: string, nextHop: string): BgpFibRoute => ({ segment: 'default', prefix, nextHop, peer: '10.255.255.1', ibgp: true });

test('a recursive next hop resolves through the longest covering route: a bundle route or an eBGP route', () => {
  const b = edge1Bundle();
  const m = mergeRoutes(b, planKernelRoutes(b), [
    ebgp('198.18.0.0/16', '100.64.0.1'), // eBGP over the inet WAN: covers the iBGP next hops below
    ebgp('198.18.7.0/24', '172.16.0.9'), // a more specific one, over the mpls WAN
    ibgp('203.0.113.0/24', '198.18.1.1'), // → 198.18.0.0/16 → via 100.64.0.1 dev wan1
    ibgp('203.0.114.0/24', '198.18.7.7'), // → 198.18.7.0/24 → via 172.16.0.9 dev wan0
    ibgp('203.0.115.0/24', '10.2.0.77'), // → the bundle's remote-site route 10.2.0.0/24 via 172.16.0.2 dev wan0
  ]);
  const rec = m.bgp.installed.filter((r) => r.via);
  assert.equal(rec.map((r) => `${r.prefix} nh ${r.nextHop} via ${r.via} dev ${r.dev} ${r.kind} ${r.source}`), [
    '203.0.113.0/24 nh 198.18.1.1 via 100.64.0.1 dev wan1 internet ibgp',
    '203.0.114.0/24 nh 198.18.7.7 via 172.16.0.9 dev wan0 internet ibgp',
    '203.0.115.0/24 nh 10.2.0.77 via 172.16.0.2 dev wan0 internet ibgp',
  ]);
  assert.ok(m.kernel.routes.some((r) => r.dst === '203.0.113.0/24' && r.via === '100.64.0.1' && r.dev === 'wan1'));
  assert.equal(m.bgp.skipped, []);
});

test('when the covering route changes or goes, the dependent routes follow in the next merge', () => {
  const b = edge1Bundle();
  const dep = ibgp('203.0.113.0/24', '198.18.1.1');
  const viaInet = mergeRoutes(b, planKernelRoutes(b), [ebgp('198.18.0.0/16', '100.64.0.1'), dep]);
  const viaMpls = mergeRoutes(b, planKernelRoutes(b), [ebgp('198.18.0.0/16', '172.16.0.9'), dep]);
  const gone = mergeRoutes(b, planKernelRoutes(b), [dep]);
  const route = (m: ReturnType<typeof mergeRoutes>) => m.kernel.routes.find((r) => r.dst === '203.0.113.0/24');
  assert.equal(route(viaInet), { dst: '203.0.113.0/24', via: '100.64.0.1', dev: 'wan1', table: 'main' });
  assert.equal(route(viaMpls), { dst: '203.0.113.0/24', via: '172.16.0.9', dev: 'wan0', table: 'main' });
  assert.is(route(gone), undefined);
  assert.match(gone.bgp.skipped[0]!.reason, /neither on a connected subnet nor covered by a route/);
  // The kernel writer's diff turns that into one changed route, then one deleted route.
  const d1 = diffRoutes(new Map(viaInet.kernel.routes.map((r) => [routeKey(r), r])), viaMpls.kernel.routes);
  assert.equal([d1.add.length, d1.change.map((r) => r.dst), d1.remove.length], [0, ['198.18.0.0/16', '203.0.113.0/24'], 0]);
  const d2 = diffRoutes(d1.next, gone.kernel.routes);
  assert.equal(d2.remove.map((r) => r.dst).sort(), ['198.18.0.0/16', '203.0.113.0/24']);
});

test('a next hop covered by a blackhole is not installed, and resolution is one level deep', () => {
  const b = edge1Bundle();
  const m = mergeRoutes(b, planKernelRoutes(b), [
    ibgp('203.0.113.0/24', '10.66.1.1'), // the bundle's blackhole 10.66.0.0/16
    ibgp('198.18.0.0/16', '10.2.0.77'), // resolves (remote-site route) ...
    ibgp('203.0.116.0/24', '198.18.1.1'), // ... but does not resolve others in turn
  ]);
  assert.equal(m.bgp.installed.map((r) => r.prefix), ['198.18.0.0/16']);
  assert.equal(m.bgp.skipped.map((r) => `${r.prefix}: ${r.reason}`).sort(), [
    '203.0.113.0/24: next hop 10.66.1.1 resolves to 10.66.0.0/16, which has no gateway (blackhole)',
    '203.0.116.0/24: next hop 198.18.1.1 is neither on a connected subnet nor covered by a route',
  ]);
});

test('routes of a second segment go to its table, next hop on its own LAN', () => {
  const b = twoSegments();
  const m = mergeRoutes(b, planKernelRoutes(b), [ebgp('172.30.0.0/16', '10.9.0.20', 'blue'), ebgp('172.31.0.0/16', '10.1.0.20', 'blue')]);
  assert.equal(m.kernel.routes.filter((r) => r.table === 1007), [{ dst: '172.30.0.0/16', via: '10.9.0.20', dev: 'lan1', table: 1007 }]);
  // 10.1.0.20 is on a LAN of another segment: not a next hop for blue.
  assert.equal(m.bgp.skipped.map((r) => r.prefix), ['172.31.0.0/16']);
});

test('a withdrawn BGP route is deleted by the same proto-250 sync that handles bundle routes', () => {
  const b = edge1Bundle();
  const before = mergeRoutes(b, planKernelRoutes(b), [ebgp('192.168.50.0/24', '10.1.0.254')]);
  const after = mergeRoutes(b, planKernelRoutes(b), []);
  const current = before.kernel.routes.map((r) => ({ dst: r.dst, table: r.table, ...(r.blackhole ? { type: 'blackhole' } : {}) }));
  const lines = routeBatch(after.kernel, current);
  assert.ok(lines.includes('route delete 192.168.50.0/24 proto 250'), lines.join('\n'));
  assert.ok(routeBatch(before.kernel, []).includes('route replace 192.168.50.0/24 via 10.1.0.254 dev lan0 proto 250'));
});

test('merged overlay routes reach pt_routes4 with their kind', () => {
  const b = edge1Bundle();
  const m = mergeRoutes(b, planKernelRoutes(b), [ebgp('192.168.50.0/24', '10.1.0.254'), ebgp('8.8.8.0/24', '100.64.0.1')]);
  const env = { ifindex: () => 3, mac: () => '02:00:00:00:00:01', neighbour: () => '02:00:00:00:00:02', peerPathIds: new Map<number, number>() };
  const plain = fibEntries(b, env).maps.pt_routes4.length;
  const e = fibEntries(withOverlayRoutes(b, m.overlay), env).maps.pt_routes4;
  assert.is(e.length, plain + 2);
  const kinds = e.map((x) => M.routeVal.decode(x.value).kind);
  assert.ok(kinds.includes(M.RouteKind.local) && kinds.includes(M.RouteKind.internet));
  assert.is(withOverlayRoutes(b, new Map()), b, 'no BGP routes: the bundle itself');
});

test('BGP routes beyond the overlay map limit still reach the kernel and are counted as omitted from the overlay', () => {
  const b = edge1Bundle();
  const n = OVERLAY_BGP_ROUTE_LIMIT + 5;
  const routes = Array.from({ length: n }, (_, i) => ebgp(`11.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32`, '10.1.0.254'));
  const m = mergeRoutes(b, planKernelRoutes(b), routes);
  assert.is(m.bgp.installed.length, n);
  assert.is(m.kernel.routes.length, planKernelRoutes(b).routes.length + n);
  assert.is(m.overlay.get('default')!.length + b.segments[0]!.routes.length, OVERLAY_BGP_ROUTE_LIMIT);
  assert.is(m.bgp.overlayOmitted, n - m.overlay.get('default')!.length);
});

test('the bundle accepts {} as no BGP and rejects a section without an asn', () => {
  const b = edge1Bundle();
  assert.is(bgpConfigOf(Bundle.parse(b), 'x'), undefined);
  assert.not.ok(Bundle.safeParse({ ...b, bgp: { neighbors: [] } }).success);
  const withBgp = Bundle.parse({ ...b, bgp: { asn: 65010, neighbors: [{ address: '100.64.0.1', asn: 65001 }] } });
  const cfg = bgpConfigOf(withBgp, 'x')!;
  assert.is(cfg.routerId, '172.16.0.1', 'router id defaults to the first WAN address');
  assert.is(cfg.neighbors[0]!.holdTime, 90);
  assert.equal(Bundle.parse(withBgp), withBgp, 'a parsed bundle parses to itself (hash-stable)');
  assert.throws(() => bgpConfigOf(Bundle.parse({ ...b, bgp: { asn: 65010, neighbors: [{ address: '100.64.0.1', asn: 65001, import: 'nope' }] } }), 'x'), /policy "nope" is not defined/);
});

test('best-path bursts are coalesced into one batch; an unchanged config keeps the speaker; a new one applies in place or replaces it', async () => {
  const batches: BgpFibChange[][] = [];
  const events: BgpEvent[] = [];
  const bgp = new AgentBgp({ onRoutes: (r) => batches.push(r), batchMs: 50, onEvent: (e) => events.push(e) });
  const cfg = (n: number, routerId?: string) => bgpConfigOf(Bundle.parse({ ...edge1Bundle(), bgp: { asn: 65010, listen: { port: 0 }, ...(routerId ? { routerId } : {}), networks: Array.from({ length: n }, (_, i) => `10.${200 + (i >> 8)}.${i & 255}.0/24`) } }), 'x')!;
  try {
    await bgp.configure(cfg(300));
    await new Promise((r) => setTimeout(r, 150));
    assert.is(batches.length, 1, '300 best-path events, one batch');
    assert.is(batches[0]!.length, 300);
    assert.ok(batches[0]!.every((c) => c.route !== undefined && c.route.peer === undefined));
    await bgp.configure(cfg(300));
    await new Promise((r) => setTimeout(r, 100));
    assert.is(batches.length, 1, 'same configuration: nothing restarted');
    await bgp.configure(cfg(2));
    await new Promise((r) => setTimeout(r, 150));
    assert.is(batches.length, 2, 'fewer networks: applied in place, one batch');
    assert.is(batches[1]!.length, 298, 'the batch carries the 298 withdrawn prefixes only');
    assert.ok(batches[1]!.every((c) => c.route === undefined));
    assert.equal(events.filter((e) => e.kind !== 'session').map((e) => (e.kind === 'routes' ? `routes +${e.added} -${e.withdrawn}` : `${e.kind} ${e.mode}`)), ['routes +300 -0', 'reconfigured in-place', 'routes +0 -298']);
    await bgp.configure(cfg(2, '10.9.9.9'));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(batches[2]!.map((c) => c.route), [undefined, undefined], 'a new router id: the old speaker stopped and its routes left at once');
    assert.is(batches.at(-1)!.length, 2);
    assert.equal(events.at(-1), { ...events.at(-1)!, type: 'bgp', kind: 'routes', added: 2 });
    assert.ok(events.some((e) => e.kind === 'reconfigured' && e.mode === 'restart'));
    assert.is(bgp.status()!.routes, 0, 'own networks are not learned routes');
  } finally {
    await bgp.stop();
  }
});

// A tiny deterministic generator (mulberry32): random sequences that replay the same way on every run.
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Random best-path tables over a small universe so prefixes collide with bundle routes and connected
 * subnets, cover each other's recursive next hops, move between LAN, WAN and recursive next hops, between
 * segments, eBGP and iBGP, and get withdrawn.
 */
function randomChanges(rand: () => number, b: Bundle, n: number): BgpFibChange[] {
  const pick = <T,>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)]!;
  const prefixes = ['192.168.50.0/24', '198.18.0.0/16', '198.18.5.0/24', '203.0.113.0/24', '10.1.0.0/24', '10.2.0.0/16', '10.2.0.128/25', '0.0.0.0/0', '172.30.0.0/16', '10.9.0.0/24', '2001:db8::/32', '8.8.8.0/24', '100.64.0.0/10', '198.19.0.0/16'];
  const hops = ['10.1.0.254', '100.64.0.1', '172.16.0.9', '198.18.0.1', '198.18.5.9', '203.0.113.7', '10.9.0.20', '10.1.0.1', '192.0.2.1', '198.19.1.1'];
  const segs = b.segments.map((s) => s.name).concat('nowhere');
  return Array.from({ length: n }, () => {
    const segment = rand() < 0.8 ? b.segments[0]!.name : pick(segs);
    const prefix = pick(prefixes);
    if (rand() < 0.3) return { segment, prefix };
    const own = rand() < 0.05;
    const nh = pick(hops);
    return { segment, prefix, route: { segment, prefix, nextHop: nh, peer: own ? undefined : nh, ibgp: rand() < 0.4 } };
  });
}

/** The overlay routes as segment|prefix → route, and a delta's overlay changes applied to them (removes, then upserts). */
const flatOverlay = (o: ReadonlyMap<string, BundleRoute[]>) => new Map([...o].flatMap(([seg, rs]) => rs.map((r) => [`${seg}|${r.prefix}`, r] as const)));
function applyOverlayDelta(cur: Map<string, BundleRoute>, d: FibDelta): void {
  for (const { segment, route } of d.overlay.remove) { assert.ok(cur.delete(`${segment}|${route.prefix}`), `removed ${route.prefix} was in the overlay`); }
  for (const { segment, route } of d.overlay.upsert) cur.set(`${segment}|${route.prefix}`, route);
}
const sortedEntries = (m: Map<string, BundleRoute>) => [...m].sort((a, b) => (a[0] < b[0] ? -1 : 1));

test('the incremental merge equals the full merge after every batch of random changes (precedence, recursion, withdrawals)', () => {
  const b = twoSegments();
  const plan = planKernelRoutes(b);
  for (let seed = 1; seed <= 40; seed++) {
    const rand = rng(seed);
    const table = new Map<string, BgpFibRoute>();
    const fib = new IncrementalFib(b, plan, []);
    let written = new Map(plan.routes.map((r) => [routeKey(r), r]));
    const ov = new Map<string, BundleRoute>();
    for (let batch = 0; batch < 25; batch++) {
      const changes = randomChanges(rand, b, 1 + Math.floor(rand() * 8));
      for (const c of changes) { const k = `${c.segment}|${c.prefix}`; if (c.route) table.set(k, c.route); else table.delete(k); }
      const d = fib.update(changes);
      const full = mergeRoutes(b, plan, [...table.values()]);
      assert.equal(fib.merged(), full, `seed ${seed} batch ${batch}`);
      // The delta moves the previously wanted kernel routes to the new ones, exactly.
      for (const r of d.remove) written.delete(routeKey(r));
      for (const r of d.upsert) written.set(routeKey(r), r);
      const want = diffRoutes(written, full.kernel.routes);
      assert.equal([want.add.length, want.change.length, want.remove.length], [0, 0, 0], `seed ${seed} batch ${batch}: delta applied = full merge`);
      written = want.next;
      assert.is(fib.installedCount, full.bgp.installed.length);
      assert.equal(fib.overlay(), full.overlay);
      // The delta's overlay changes move the previous overlay routes to the new ones, exactly.
      applyOverlayDelta(ov, d);
      assert.equal(sortedEntries(ov), sortedEntries(flatOverlay(full.overlay)), `seed ${seed} batch ${batch}: overlay delta applied = full merge`);
    }
  }
});

test('the incremental merge keeps the overlay places of the full merge past the overlay limit', () => {
  const b = edge1Bundle();
  const plan = planKernelRoutes(b);
  const rand = rng(7);
  const prefixOf = (i: number) => `11.${i >> 16}.${(i >> 8) & 255}.${i & 255}/32`;
  const table = new Map<string, BgpFibRoute>();
  const fib = new IncrementalFib(b, plan, []);
  const n = OVERLAY_BGP_ROUTE_LIMIT + 200;
  // Fill in a shuffled order, then churn around the limit: evictions and promotions.
  const order = Array.from({ length: n }, (_, i) => i).sort(() => rand() - 0.5);
  const put = (i: number, nh: string | undefined) => {
    const prefix = prefixOf(i);
    const route = nh ? ebgp(prefix, nh) : undefined;
    if (route) table.set(prefix, route); else table.delete(prefix);
    return { segment: 'default', prefix, route };
  };
  const ov = new Map<string, BundleRoute>();
  applyOverlayDelta(ov, fib.update(order.map((i) => put(i, '10.1.0.254'))));
  for (let k = 0; k < 6; k++) {
    const changes = Array.from({ length: 300 }, () => put(Math.floor(rand() * n), rand() < 0.5 ? undefined : pick2(rand)));
    const d = fib.update(changes);
    const full = mergeRoutes(b, plan, [...table.values()]);
    assert.equal(fib.overlay(), full.overlay, `round ${k}`);
    assert.is(fib.overlayOmitted, full.bgp.overlayOmitted);
    assert.ok(d.upsert.length + d.remove.length <= 300, 'a batch touches only its own prefixes');
    applyOverlayDelta(ov, d);
    assert.equal(sortedEntries(ov), sortedEntries(flatOverlay(full.overlay)), `round ${k}: overlay delta applied = full merge`);
    // Each change moves at most its own prefix and one evicted or promoted route, not the 60 000 places.
    assert.ok(d.overlay.upsert.length + d.overlay.remove.length <= 2 * 300, `round ${k}: ${d.overlay.upsert.length} + ${d.overlay.remove.length} overlay changes`);
  }
  function pick2(r: () => number) { return r() < 0.5 ? '10.1.0.254' : '100.64.0.1'; }
});

test('a batch hands over only the changed kernel routes, and dependants of a moved covering route', () => {
  const b = edge1Bundle();
  const dep: BgpFibRoute = { segment: 'default', prefix: '203.0.113.0/24', nextHop: '198.18.0.1', peer: '10.255.9.9', ibgp: true };
  const others = Array.from({ length: 1000 }, (_, i) => ebgp(`11.${i >> 8}.${i & 255}.0/24`, '10.1.0.254'));
  const fib = new IncrementalFib(b, planKernelRoutes(b), [...others, ebgp('198.18.0.0/16', '100.64.0.1'), dep]);
  const d = fib.update([{ segment: 'default', prefix: '198.18.0.0/16', route: ebgp('198.18.0.0/16', '172.16.0.9') }]);
  assert.equal(d.upsert.map((r) => `${r.dst} via ${r.via} dev ${r.dev}`).sort(), ['198.18.0.0/16 via 172.16.0.9 dev wan0', '203.0.113.0/24 via 172.16.0.9 dev wan0']);
  assert.equal(d.remove, []);
  const gone = fib.update([{ segment: 'default', prefix: '198.18.0.0/16' }]);
  assert.equal(gone.remove.map((r) => r.dst).sort(), ['198.18.0.0/16', '203.0.113.0/24']);
  assert.equal(fib.update([]), { upsert: [], remove: [], overlayChanged: false, overlay: { upsert: [], remove: [] } });
});

test('a large batch is merged in slices with the event loop free between them, ending where one update ends', async () => {
  const b = edge1Bundle();
  const put = (i: number, nh: string): BgpFibChange => ({ segment: 'default', prefix: `11.${i >> 8}.${i & 255}.0/24`, route: ebgp(`11.${i >> 8}.${i & 255}.0/24`, nh) });
  // 2 500 adds, then a withdrawal and a next-hop change of prefixes added in an earlier slice.
  const changes = [...Array.from({ length: 2500 }, (_, i) => put(i, '10.1.0.254')), { segment: 'default', prefix: '11.0.7.0/24' }, put(9, '100.64.0.1')];
  const whole = new IncrementalFib(b, planKernelRoutes(b), []);
  whole.update(changes);
  const sliced = new IncrementalFib(b, planKernelRoutes(b), []);
  const writes: number[] = [];
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  const seen: number[] = [];
  await updateInSlices(sliced, changes, async (d) => { writes.push(d.upsert.length + d.remove.length); seen.push(ticks); }, 1000);
  clearInterval(timer);
  // One write per slice of 1 000; the last: 500 adds, 1 upsert (the changed next hop) and 1 removal.
  assert.equal(writes, [1000, 1000, 502]);
  assert.ok(seen[2]! > seen[0]!, `a timer ran between the slices (ticks seen per write: ${seen})`);
  assert.equal(sliced.merged(), whole.merged());
  // A small batch (and an empty one) is one update and one write.
  const one: number[] = [];
  await updateInSlices(sliced, [], async (d) => { one.push(d.upsert.length); });
  assert.equal(one, [0]);
});

test.run();

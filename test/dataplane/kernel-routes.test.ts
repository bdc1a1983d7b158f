// timeout: 30
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { planKernelRoutes, routeBatch } from '../../dataplane/agent/index.ts';
import { diffBatch, diffRoutes, KernelRouteWriter, routeKey, type KernelRoute, type RoutePlan } from '../../dataplane/agent/kernel-routes.ts';
import { edge1Bundle } from './bundle-fixture.ts';

test('remote prefixes go over an on-link path; routed peers get underlay host routes', () => {
  const plan = planKernelRoutes(edge1Bundle());
  assert.equal(plan.routes, [
    { dst: '100.64.0.6/32', via: '100.64.0.1', dev: 'wan1', table: 'main' },
    // The rule prefers inet, but only mpls has the peer on-link, so native forwarding uses mpls.
    { dst: '10.2.0.0/24', via: '172.16.0.2', dev: 'wan0', table: 'main' },
    { dst: '10.66.0.0/16', blackhole: true, table: 'main' },
  ]);
  assert.equal(plan.skipped, []);
});

test('a remote site reachable only through a routed underlay is reported as needing the overlay', () => {
  const b = edge1Bundle();
  b.paths = b.paths.filter((p) => p.transport === 'inet');
  const plan = planKernelRoutes(b);
  assert.equal(plan.skipped, [{ segment: 'default', prefix: '10.2.0.0/24', reason: 'no on-link path to site s2; needs the overlay' }]);
});

test('segments after the first get their own table and a rule for their LAN interfaces', () => {
  const b = edge1Bundle();
  b.interfaces.lan.push({ name: 'lan1', segment: 'guest', ipv4: ['10.1.1.1/24'] });
  b.segments.push({ name: 'guest', id: 7, routes: [{ prefix: '10.2.1.0/24', kind: 'remote', site: 's2', siteId: 2, via: 's2' }] });
  const plan = planKernelRoutes(b);
  assert.equal(plan.rules, [{ iif: 'lan1', table: 1007 }]);
  assert.ok(plan.routes.some((r) => r.dst === '10.2.1.0/24' && r.table === 1007));
});

test('an update replaces wanted routes in place and deletes only the agent routes no longer wanted', () => {
  const plan = planKernelRoutes(edge1Bundle());
  const lines = routeBatch(plan, [
    { dst: '10.2.0.0/24', table: 'main' },
    { dst: '10.3.0.0/24', table: 'main' },
    { dst: '10.9.0.0/16', table: 'main', type: 'blackhole' },
  ]);
  assert.equal(lines, [
    'route replace 100.64.0.6/32 via 100.64.0.1 dev wan1 proto 250',
    'route replace 10.2.0.0/24 via 172.16.0.2 dev wan0 proto 250',
    'route replace blackhole 10.66.0.0/16 proto 250',
    'route delete 10.3.0.0/24 proto 250',
    'route delete blackhole 10.9.0.0/16 proto 250',
  ]);
});

const r = (dst: string, via: string, table: number | 'main' = 'main'): KernelRoute => ({ dst, via, dev: 'wan0', table });
const written = (...rs: KernelRoute[]) => new Map(rs.map((x) => [routeKey(x), x]));

test('the diff against the last write lists only added, changed and removed routes', () => {
  const d = diffRoutes(
    written(r('10.0.0.0/24', '10.255.0.2'), r('10.1.0.0/24', '10.255.0.2'), r('10.2.0.0/24', '10.255.0.2'), { dst: '10.66.0.0/16', blackhole: true, table: 'main' }),
    [r('10.0.0.0/24', '10.255.0.2'), r('10.1.0.0/24', '10.255.0.3'), r('10.3.0.0/24', '10.255.0.2'), { dst: '10.66.0.0/16', blackhole: true, table: 'main' }],
  );
  assert.equal(d.add, [r('10.3.0.0/24', '10.255.0.2')]);
  assert.equal(d.change, [r('10.1.0.0/24', '10.255.0.3')]);
  assert.equal(d.remove, [r('10.2.0.0/24', '10.255.0.2')]);
  assert.equal([...d.next.keys()], ['main|10.0.0.0/24', 'main|10.1.0.0/24', 'main|10.3.0.0/24', 'main|10.66.0.0/16']);
  assert.equal(diffBatch(d), [
    'route replace 10.3.0.0/24 via 10.255.0.2 dev wan0 proto 250',
    'route replace 10.1.0.0/24 via 10.255.0.3 dev wan0 proto 250',
    'route delete 10.2.0.0/24 proto 250',
  ]);
});

test('the same prefix in two tables is two routes; a route turning into a blackhole is a change; default is 0.0.0.0/0', () => {
  const d = diffRoutes(written(r('10.0.0.0/24', '10.255.0.2'), r('0.0.0.0/0', '10.255.0.2')), [r('10.0.0.0/24', '10.255.0.2', 1007), { dst: '10.0.0.0/24', blackhole: true, table: 'main' }, r('default', '10.255.0.2')]);
  assert.equal(d.add, [r('10.0.0.0/24', '10.255.0.2', 1007)]);
  assert.equal(d.change, [{ dst: '10.0.0.0/24', blackhole: true, table: 'main' }]);
  assert.equal(d.remove, []);
  assert.equal(diffBatch({ add: [], change: [], remove: [{ dst: '10.9.0.0/16', blackhole: true, table: 1007 }] }), ['route delete blackhole 10.9.0.0/16 proto 250 table 1007']);
});

test('an unchanged plan diffs to nothing and a duplicate key keeps the last route, as a replace batch would', () => {
  const rs = Array.from({ length: 1000 }, (_, i) => r(`20.${i >> 8}.${i & 255}.0/24`, '10.255.0.2'));
  const d = diffRoutes(written(...rs), rs.map((x) => ({ ...x })));
  assert.equal([d.add.length, d.change.length, d.remove.length], [0, 0, 0]);
  const dup = diffRoutes(new Map(), [r('10.0.0.0/24', '10.255.0.2'), r('10.0.0.0/24', '10.255.0.3')]);
  assert.equal(dup.add, [r('10.0.0.0/24', '10.255.0.3')]);
});

test('the writer converges fully first, then writes only the changes of each later plan (in a namespace of its own)', async () => {
  const ns = `pt.krw${process.pid}`;
  const ip = (...a: string[]) => execFileSync('ip', ['-n', ns, ...a]).toString();
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    ip('link', 'add', 'wan0', 'type', 'veth', 'peer', 'name', 'wan0p');
    ip('addr', 'add', '10.255.0.1/24', 'dev', 'wan0');
    ip('link', 'set', 'wan0', 'up');
    ip('link', 'set', 'wan0p', 'up');
    // A stale agent route from "before a restart", and a foreign route the writer must not touch.
    ip('route', 'add', '30.0.0.0/24', 'via', '10.255.0.2', 'proto', '250');
    ip('route', 'add', '31.0.0.0/24', 'via', '10.255.0.2', 'proto', 'static');
    const plan = (n: number, f = (_i: number) => '10.255.0.2'): RoutePlan => ({ routes: Array.from({ length: n }, (_, i) => ({ dst: `20.${i >> 8}.${i & 255}.0/24`, via: f(i), dev: 'wan0', table: 'main' as const })), rules: [], skipped: [] });
    const mine = () => ip('route', 'show', 'proto', '250').trim().split('\n').filter(Boolean);
    const w = new KernelRouteWriter({ netns: ns, chunkLines: 2500 });

    const first = await w.write(plan(3000));
    assert.equal({ ...first, ms: 0 }, { mode: 'full', replaced: 3000, added: 0, deleted: 1, ms: 0 });
    assert.is(mine().length, 3000, 'the stale route is gone, every wanted one is in (two chunks, the first split over two ip processes)');
    assert.match(ip('route', 'show', '31.0.0.0/24'), /proto static/);

    const second = await w.write(plan(3000, (i) => (i === 7 ? '10.255.0.3' : '10.255.0.2')));
    assert.equal({ ...second, ms: 0 }, { mode: 'diff', replaced: 1, added: 0, deleted: 0, ms: 0 });
    assert.match(ip('route', 'show', '20.0.7.0/24'), /via 10\.255\.0\.3/);

    const third = await w.write(plan(2999, (i) => (i === 7 ? '10.255.0.3' : '10.255.0.2')));
    assert.equal({ ...third, ms: 0 }, { mode: 'diff', replaced: 0, added: 0, deleted: 1, ms: 0 });
    assert.is(mine().length, 2999);

    // A route deleted behind the writer's back comes back only with a full write.
    ip('route', 'del', '20.0.1.0/24', 'proto', '250');
    assert.is((await w.write(plan(2999, (i) => (i === 7 ? '10.255.0.3' : '10.255.0.2')))).replaced, 0);
    assert.is(mine().length, 2998);
    assert.is((await w.write(plan(2999, (i) => (i === 7 ? '10.255.0.3' : '10.255.0.2')), { full: true })).replaced, 2999);
    assert.is(mine().length, 2999);

    // A failed batch (next hop not on any subnet) forgets the written state: the next write is full.
    const failed = await w.write({ routes: [{ dst: '40.0.0.0/24', via: '192.0.2.1', dev: 'wan0', table: 'main' }], rules: [], skipped: [] }).then(() => null, (e: Error) => e);
    assert.match(failed?.message ?? 'no error', /^ip -batch: /);
    assert.is((await w.write(plan(3))).mode, 'full');
    assert.is(mine().length, 3);
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
});

test.run();

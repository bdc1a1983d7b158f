import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { planKernelRoutes, routeBatch } from '../../dataplane/agent/index.ts';
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

test.run();

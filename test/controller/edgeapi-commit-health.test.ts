// timeout: 30
/** The agent's commit-confirmed health rule (dataplane/agent/controller-client.ts commitHealth), case by case. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { commitHealth } from '../../dataplane/agent/controller-client.ts';
import type { AgentStatus, Bundle } from '../../dataplane/index.ts';
import { edge1Bundle } from '../dataplane/bundle-fixture.ts';

const b = edge1Bundle(); // two probed paths to edge2
const paths = (...states: string[]) => states.map((state, i) => ({ id: i + 1, peer: 'edge2', state })) as AgentStatus['paths'];
const st = (p: AgentStatus['paths'], bgp: AgentStatus['bgp'] = null) => ({ paths: p, bgp });

test('one path up to every peer is enough; degraded counts as up', () => {
  assert.equal(commitHealth(st(paths('up', 'down')), b, true), { healthy: true, reasons: [] });
  assert.equal(commitHealth(st(paths('down', 'degraded')), b, true).healthy, true);
});

test('a peer with no path up fails and is named', () => {
  assert.equal(commitHealth(st(paths('down', 'down')), b, true), { healthy: false, reasons: ['no path to edge2 is up (down, down)'] });
  assert.equal(commitHealth(st([]), b, true).reasons, ['no path to edge2 is up (none probed)']);
});

test('every BGP neighbour must be Established', () => {
  const bgp = { asn: 65001, routerId: '1.1.1.1', routes: 0, neighbors: [{ address: '10.0.0.1', state: 'Established' }, { address: '10.0.0.5', state: 'Active' }] } as unknown as AgentStatus['bgp'];
  assert.equal(commitHealth(st(paths('up'), bgp), b, true).reasons, ['BGP neighbour 10.0.0.5 is Active']);
  const withNeighbours = { ...b, bgp: { ...b.bgp, asn: 65001, neighbors: [{ address: '10.0.0.1' }] } } as unknown as Bundle;
  assert.equal(commitHealth(st(paths('up')), withNeighbours, true).reasons, ['BGP speaker not running']);
});

test('an unreachable controller fails the check even with healthy paths', () => {
  assert.equal(commitHealth(st(paths('up', 'up')), b, false).reasons, ['controller not reachable since the apply']);
  assert.equal(commitHealth(st([]), { ...b, paths: [] }, true).healthy, true, 'nothing to probe, controller reached');
});

test.run();

// timeout: 30
/**
 * dataplane/agent/reflexive.ts against two real probe responders on loopback (the responder port and the
 * alternate one): an interface learns its reflexive endpoint and mapping from a burst, the burst ends once
 * settled (the responders stop hearing from it), relearn() starts another; a peer that never answers is
 * reported `none`. And the hub's relay routes (agent/wg.ts relayPlan): one per remote prefix of the first
 * segment into the device of the best encrypted path to the site it goes via.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ReflexiveDiscovery } from '../../dataplane/agent/reflexive.ts';
import { relayPlan } from '../../dataplane/agent/wg.ts';
import { Responder } from '../../dataplane/probe/index.ts';
import type { Bundle, BundlePath } from '../../dataplane/bundle/schema.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const path = (id: number, o: Partial<BundlePath>): BundlePath => ({
  id, peerNode: 'hub', peerSite: 'hub', peerSiteId: 1, transport: 'inet', remoteTransport: 'inet', localInterface: 'lo',
  localAddress: '127.0.0.1', remoteAddress: '127.0.0.1', mtu: 1500, role: 'active', probe: true, ...o,
});
const bundleOf = (paths: BundlePath[], routes: Bundle['segments'][number]['routes'] = []) => ({ paths, segments: [{ name: 'default', id: 0, routes }] }) as unknown as Bundle;

let main: Responder, alt: Responder;
test.before(async () => {
  // Two free adjacent ports: the discovery asks port and port + 1 like the agents' responders.
  for (let base = 20000 + (process.pid % 20000); ; base += 2) {
    main = new Responder({ address: '127.0.0.1', port: base });
    alt = new Responder({ address: '127.0.0.1', port: base + 1 });
    try { await main.start(); await alt.start(); break; } catch { await main.stop(); await alt.stop(); }
  }
});
test.after(async () => { await main.stop(); await alt.stop(); });

test('a burst learns the endpoint both reflector ports saw, then stops; relearn asks again', async () => {
  const d = new ReflexiveDiscovery(main.port);
  try {
    await d.load(bundleOf([path(1, {})]));
    for (let i = 0; i < 30 && d.status()[0]!.state !== 'learned'; i++) await sleep(50);
    await sleep(100);
    const [s] = d.status();
    assert.is(s!.state, 'learned');
    assert.is(s!.interface, 'lo');
    assert.is(s!.address, '127.0.0.1');
    assert.is(s!.port, s!.localPort, 'no NAT on loopback: the socket\'s own port');
    assert.is(s!.mapping, 'endpoint-independent');
    assert.is(s!.portPreserving, true);
    assert.equal(Object.keys(s!.seenBy).sort(), [`127.0.0.1:${main.port}`, `127.0.0.1:${alt.port}`]);
    const heard = main.counters.replied + alt.counters.replied;
    await sleep(2500);
    assert.is(main.counters.replied + alt.counters.replied, heard, 'settled: no more requests on the underlay');
    d.relearn();
    await sleep(300);
    assert.ok(main.counters.replied + alt.counters.replied >= heard + 2, 'relearn sent a new round');
    assert.is(d.status()[0]!.state, 'learned');
  } finally { await d.stop(); }
});

test('an interface whose peers never answer goes from pending to none', async () => {
  const d = new ReflexiveDiscovery(main.port);
  try {
    // 127.0.0.2 is loopback too, but nothing listens there on these ports.
    await d.load(bundleOf([path(1, { remoteAddress: '127.0.0.2' })]));
    assert.is(d.status()[0]!.state, 'pending');
    await sleep(4500);
    assert.equal({ ...d.status()[0]!, localPort: 0 }, { interface: 'lo', transport: 'inet', localAddress: '127.0.0.1', localPort: 0, state: 'none', address: null, port: null, mapping: null, portPreserving: null, seenBy: {} });
  } finally { await d.stop(); }
});

test('relay routes: each remote prefix into the device of the best encrypted path to its next site', () => {
  const wg = { listenPort: 51821, peerPort: 51821, address: '169.254.0.0', peerAddress: '169.254.0.1' };
  const b = bundleOf([
    path(1, { peerNode: 's1', peerSite: 's1', wireguard: wg, role: 'backup' }),
    path(2, { peerNode: 's1', peerSite: 's1', wireguard: wg }),
    path(3, { peerNode: 's2', peerSite: 's2', wireguard: wg }),
    path(4, { peerNode: 's3', peerSite: 's3' }),
  ], [
    { prefix: '0.0.0.0/0', kind: 'remote', site: 's1', siteId: 2, via: 's1' },
    { prefix: '10.1.0.0/24', kind: 'remote', site: 's1', siteId: 2, via: 's1' },
    { prefix: '10.2.0.0/24', kind: 'remote', site: 's2', siteId: 3, via: 's2' },
    { prefix: '10.3.0.0/24', kind: 'remote', site: 's3', siteId: 4, via: 's3' },
    { prefix: '10.9.0.0/24', kind: 'local' },
  ] as Bundle['segments'][number]['routes']);
  const devs: Record<number, string> = { 1: 'ptwa', 2: 'ptwb' };
  assert.equal(relayPlan(b, (id) => devs[id]), [{ dst: '10.1.0.0/24', dev: 'ptwb' }],
    'the active path\'s device; s2\'s device is not up, s3 is plaintext, the default and local routes stay out');
});

test.run();

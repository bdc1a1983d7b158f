// timeout: 60
// Two Patronus speakers over real TCP on loopback (127.0.0.1 and 127.0.0.2, both dialing, so connection
// collision is resolved for real): routes with communities both ways, IPv6 over MP-BGP, policy,
// withdrawal, route refresh and Cease on shutdown. Bad configuration is an InputError with key paths.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BgpSpeaker, parseSpeakerConfig, type SpeakerConfigInput } from '../../dataplane/bgp/index.ts';
import { isInputError } from '../../dataplane/errors.ts';

const portA = 20000 + (process.pid % 20000), portB = portA + 1;
const cfgA: SpeakerConfigInput = {
  asn: 65001, routerId: '10.0.0.1', listen: { address: '127.0.0.1', port: portA },
  neighbors: [{ address: '127.0.0.2', port: portB, asn: 65002, localAddress: '127.0.0.1', holdTime: 3, connectRetryTime: 0.5, idleHoldTime: 0.5, nextHop6: '2001:db8::1', export: 'out' }],
  networks: [{ prefix: '10.1.0.0/16', communities: ['65001:100', '65001:7:8'] }, '2001:db8:1::/48', '10.66.0.0/16'],
  policies: { out: { rules: [{ match: { prefixes: [{ prefix: '10.66.0.0/16' }] }, action: 'deny' }, { match: { family: 'ipv4' }, set: { med: 42 } }] } },
};
const cfgB: SpeakerConfigInput = {
  asn: 65002, routerId: '10.0.0.2', listen: { address: '127.0.0.2', port: portB },
  neighbors: [{ address: '127.0.0.1', port: portA, asn: 65001, localAddress: '127.0.0.2', holdTime: 3, connectRetryTime: 0.5, idleHoldTime: 0.5, nextHop6: '2001:db8::2', import: 'in' }],
  networks: ['10.2.0.0/16'],
  policies: { in: { rules: [{ match: { community: ['65001:100'] }, set: { localPref: 300, removeCommunities: ['65001:100'] } }] } },
};

const a = new BgpSpeaker(parseSpeakerConfig(cfgA, 'a.json'));
const b = new BgpSpeaker(parseSpeakerConfig(cfgB, 'b.json'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, cond: () => boolean, ms = 10_000) {
  const t0 = Date.now();
  while (!cond()) { if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`); await sleep(20); }
}
const bestIn = (s: BgpSpeaker, p: string) => s.routes().find((r) => r.prefix === p);

test.after(async () => { await a.stop().catch(() => {}); await b.stop().catch(() => {}); });

test('two speakers that both dial reach Established on one connection', async () => {
  await a.start(); await b.start();
  await until('established', () => a.status()[0]!.state === 'Established' && b.status()[0]!.state === 'Established');
});

test('IPv4 and IPv6 routes cross with communities, large communities and both policies applied', async () => {
  await until('routes at b', () => !!bestIn(b, '10.1.0.0/16') && !!bestIn(b, '2001:db8:1::/48'));
  await until('routes at a', () => !!bestIn(a, '10.2.0.0/16'));
  const r = bestIn(b, '10.1.0.0/16')!;
  assert.is(r.attrs.nextHop, '127.0.0.1');
  assert.equal(r.attrs.asPath, [{ type: 2, asns: [65001] }]);
  assert.is(r.attrs.med, 42, 'export policy set MED');
  assert.is(r.attrs.localPref, 300, 'import policy set LOCAL_PREF');
  assert.is(r.attrs.communities, undefined, 'import policy stripped the community');
  assert.equal(r.attrs.largeCommunities, [[65001, 7, 8]]);
  assert.is(bestIn(b, '2001:db8:1::/48')!.attrs.nextHop, '2001:db8::1');
  assert.is(bestIn(b, '10.66.0.0/16'), undefined, 'export policy denied it');
  assert.is(bestIn(a, '10.2.0.0/16')!.attrs.nextHop, '127.0.0.2');
});

test('a withdrawn network disappears at the peer and comes back when originated again', async () => {
  a.withdrawNetwork('10.1.0.0/16');
  await until('withdrawn at b', () => !bestIn(b, '10.1.0.0/16'));
  a.originate({ prefix: '10.1.0.0/16', segment: 'default' });
  await until('back at b', () => !!bestIn(b, '10.1.0.0/16'));
});

test('route refresh makes the peer resend its table', async () => {
  let bests = 0;
  const seen = new Set<string>();
  const onBest = (c: { prefix: string }) => { bests++; seen.add(c.prefix); };
  // Drop b's copy behind its back, then ask a to resend: the routes must come back.
  b.ribOf('default').dropPeer('127.0.0.1');
  assert.is(bestIn(b, '10.1.0.0/16'), undefined);
  b.on('best', onBest);
  b.refresh('127.0.0.1');
  await until('refreshed', () => !!bestIn(b, '10.1.0.0/16') && !!bestIn(b, '2001:db8:1::/48'));
  b.off('best', onBest);
  assert.ok(seen.has('10.1.0.0/16') && bests >= 2);
});

test('a new configuration applies in place: the unaffected session stays up, policies and networks change', async () => {
  const transitions: string[] = [];
  const onSession = (e: { address: string; to: string }) => transitions.push(`${e.address} ${e.to}`);
  a.on('session', onSession); b.on('session', onSession);
  const next = parseSpeakerConfig({
    ...cfgA,
    neighbors: [...cfgA.neighbors!, { address: '127.0.0.3', asn: 65003, passive: true }],
    networks: [...cfgA.networks!, '10.3.0.0/16'],
    policies: { out: { rules: [{ match: { prefixes: [{ prefix: '10.1.0.0/16' }] }, action: 'deny' }] } },
  }, 'a2.json');
  const done = a.reconfigure(next);
  assert.equal(done, { added: ['127.0.0.3'], removed: [], restarted: [], refreshed: [], reexported: ['127.0.0.2'] });
  await until('new network at b, newly denied one withdrawn, newly allowed one sent', () => !!bestIn(b, '10.3.0.0/16') && !bestIn(b, '10.1.0.0/16') && !!bestIn(b, '10.66.0.0/16'));
  assert.is(bestIn(b, '10.66.0.0/16')!.attrs.med, undefined, 'the new export policy sets no MED');
  assert.equal(a.status().map((n) => n.address), ['127.0.0.2', '127.0.0.3']);
  assert.is(a.status()[0]!.state, 'Established');
  assert.equal(transitions.filter((t) => !t.startsWith('127.0.0.3')), [], 'the existing session did not change state');
  assert.ok(transitions.includes('127.0.0.3 Active'), 'the new passive neighbour waits for its peer');
  // Back to the original: the extra neighbour goes, the network is withdrawn.
  assert.equal(a.reconfigure(parseSpeakerConfig(cfgA, 'a.json'))!.removed, ['127.0.0.3']);
  await until('back to the first policy at b', () => !bestIn(b, '10.3.0.0/16') && !!bestIn(b, '10.1.0.0/16') && !bestIn(b, '10.66.0.0/16'));
  assert.equal(transitions.filter((t) => t.startsWith('127.0.0.2') || t.startsWith('127.0.0.1')), []);
  a.off('session', onSession); b.off('session', onSession);
  assert.is(a.reconfigure(parseSpeakerConfig({ ...cfgA, routerId: '10.0.0.9' }, 'a3.json')), undefined, 'a new router id needs a new speaker');
  assert.is(a.cfg.routerId, '10.0.0.1', 'a refused reconfiguration changes nothing');
});

test('stopping one speaker sends Cease and the other withdraws its routes', async () => {
  const reasons: string[] = [];
  b.on('session', (s) => reasons.push(s.reason));
  await a.stop();
  await until('b down', () => b.status()[0]!.state !== 'Established');
  assert.ok(reasons.some((r) => /Cease \/ Administrative Shutdown/.test(r)), reasons.join('; '));
  await until('routes gone', () => !bestIn(b, '10.1.0.0/16'));
});

test('a bad configuration names the file and every key path', () => {
  try {
    parseSpeakerConfig({ asn: 0, routerId: '10.0.0.300', neighbors: [{ address: '10.0.0.1', asn: 1, holdTime: 2, import: 'nope' }] }, 'edge1.bundle.json');
    assert.unreachable();
  } catch (e) {
    assert.ok(isInputError(e));
    assert.match(String((e as Error).message), /edge1\.bundle\.json: asn:/);
    assert.match(String((e as Error).message), /routerId: expected an IPv4 address/);
    assert.match(String((e as Error).message), /neighbors\[0\]\.holdTime: expected 0 or at least 3 seconds/);
  }
  try {
    parseSpeakerConfig({ asn: 1, routerId: '10.0.0.1', neighbors: [{ address: '10.0.0.1', asn: 2, import: 'nope' }] }, 'x.json');
    assert.unreachable();
  } catch (e) {
    assert.match(String((e as Error).message), /x\.json: neighbors\[0\]\.import: policy "nope" is not defined \(known: none\)/);
  }
});

test.run();

// timeout: 180
/**
 * Lab labs/nat-traversal: a public hub and spokes behind port-preserving (s1), symmetric (s2) and two-layer
 * carrier-grade (s3) NAT, the internet transport encrypted. The bring-up learns each spoke's reflexive
 * endpoint and NAT mapping from the hub's probe echoes and recompiles: s1 ↔ s3 punch a direct WireGuard
 * tunnel through both NATs, s2 (endpoint-dependent mapping) reaches the other spokes through the hub. Every
 * host reaches every other; the TTL shows which went direct and which through the hub. NAT bindings that
 * time out (conntrack UDP timeout shortened inside the NAT nodes' namespaces, the spokes' links cut for
 * longer than that, every NAT's conntrack table empties) are re-created: traffic resumes, direct and relayed.
 * Run under `flock /tmp/pt-heavy.lock` (timing: probes, handshakes).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bringUp, prepareLab, type PreparedLab } from '../../controller/cli/twin.ts';
import { getProvider } from '../../twin/index.ts';
import { edgeStatus } from './edge-status.ts';
import { sleep } from '../../bench/lib/flow.ts';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const lab = `ntr${process.pid}`;
const p = getProvider('netns');
const st = Object.fromEntries(['hub', 's1', 's2', 's3'].map((n) => [n, edgeStatus(p, lab, n)]));
const hostOf = { hub: 'h0', s1: 'h1', s2: 'h2', s3: 'h3' } as Record<string, string>;
const lanOf = { hub: '10.0.0.10', s1: '10.1.0.10', s2: '10.2.0.10', s3: '10.3.0.10' } as Record<string, string>;
let prepared: PreparedLab;
/** Each NAT node and the inside address its spoke's traffic comes from (cg-cgn: cg's shared-space address). */
const INSIDE = { home: '192.168.50.2', lte: '10.200.0.2', cg: '192.168.60.2', 'cg-cgn': '100.127.255.2' } as Record<string, string>;
/**
 * The NAT node's live UDP bindings from `inside` (/proc/net/nf_conntrack skips expired entries): the original
 * tuple and the seconds left. Entries made before the timeout was shortened (the first bundles' sockets)
 * keep their old timeout until refreshed, so the test follows the tuples refreshed under the short one.
 */
async function bindings(nat: string, inside: string): Promise<{ tuple: string; leftS: number }[]> {
  const r = await p.exec(lab, nat, ['cat', '/proc/net/nf_conntrack']);
  return r.stdout.split('\n').filter((l) => / udp /.test(l) && l.includes(`src=${inside} `)).map((l) => {
    const f = l.trim().split(/\s+/);
    return { tuple: f.slice(5, 9).join(' '), leftS: Number(f[4]) };
  });
}

const peersUp = (s: any) => s.paths.filter((x: any) => x.state === 'up').map((x: any) => x.peer).sort();
const wgTo = (s: any, peer: string) => s.wireguard.devices.find((d: any) => d.peerNode === peer);
/** One ping from the host behind `from` to the host behind `to`; the reply's TTL, or null when none came back. */
async function pingTtl(from: string, to: string, count = 3): Promise<{ received: number; ttl: number | null }> {
  const r = await p.exec(lab, hostOf[from]!, ['ping', '-c', String(count), '-i', '0.2', '-W', '1', lanOf[to]!]);
  const received = Number(/(\d+) received/.exec(r.stdout)?.[1] ?? 0);
  return { received, ttl: Number(/ttl=(\d+)/.exec(r.stdout)?.[1] ?? NaN) || null };
}

test('bring-up learns each spoke\'s reflexive endpoint and NAT mapping from the hub', async () => {
  prepared = prepareLab('labs/nat-traversal/lab.yaml', { name: lab });
  await bringUp(p, prepared, { out: { write: () => true } as any });
  const refl = (node: string) => prepared.inventory!.edges.find((e) => e.node === node)!.interfaces.find((i) => i.name === 'wan0')!.reflexive;
  assert.is(refl('hub'), undefined, 'no reflector can reach the hub\'s peers behind NAT: nothing learned, the hub counts as public');
  assert.equal({ ...refl('s1'), port: 0 }, { address: '198.51.100.6', port: 0, mapping: 'endpoint-independent', portPreserving: true });
  assert.equal({ ...refl('s2'), port: 0 }, { address: '198.51.100.10', port: 0, mapping: 'endpoint-dependent', portPreserving: false });
  // Two port-preserving layers: the outside sees the carrier node's address, the socket's port kept.
  assert.equal({ ...refl('s3'), port: 0 }, { address: '198.51.100.14', port: 0, mapping: 'endpoint-independent', portPreserving: true });
  const s2 = (await st.s2!.get()).reflexive[0];
  assert.is.not(s2.seenBy['198.51.100.2:4784'], s2.seenBy['198.51.100.2:4785'], 'the symmetric NAT mapped the two hub ports differently');
});

test('the compiler keeps the direct s1–s3 pair and routes s2\'s spoke traffic through the hub', async () => {
  const peers = (n: string) => prepared.bundles.get(n)!.bundle.paths.map((x) => x.peerNode).sort();
  assert.equal(peers('hub'), ['s1', 's2', 's3']);
  assert.equal(peers('s1'), ['hub', 's3']);
  assert.equal(peers('s2'), ['hub']);
  assert.equal(peers('s3'), ['hub', 's1']);
  const s2 = prepared.bundles.get('s2')!.bundle;
  assert.ok(s2.segments[0]!.routes.some((r) => r.prefix === '10.1.0.0/24' && r.via === 'hub'));
  const s1ToS3 = prepared.bundles.get('s1')!.bundle.paths.find((x) => x.peerNode === 's3')!;
  assert.is(s1ToS3.remoteAddress, '198.51.100.14', 's1 dials s3 at its reflexive (carrier) address');
  assert.ok(s1ToS3.wireguard?.peerPublicKey, 'the reverse path was paired despite the NAT: both keys in place');
});

test('every spoke\'s tunnels shake hands: to the hub, and s1 ↔ s3 directly through both NATs', async () => {
  await st.hub!.until('the hub sees every spoke up', 30_000, (s) => peersUp(s).join() === 's1,s2,s3');
  await st.s1!.until('s1: hub and s3 up', 30_000, (s) => peersUp(s).join() === 'hub,s3');
  await st.s2!.until('s2: hub up', 30_000, (s) => peersUp(s).join() === 'hub');
  const s3 = await st.s3!.until('s3: hub and s1 up', 30_000, (s) => peersUp(s).join() === 'hub,s1');
  assert.not.equal(wgTo(s3, 's1').handshakeAgeS, null);
  assert.is(s3.lastError, null);
  // The hub's WireGuard learned where s2's packets really come from: its NAT's address, a NAT-chosen port.
  const hubWg = (await st.hub!.get()).wireguard;
  assert.ok(hubWg.devices.every((d: any) => d.handshakeAgeS !== null));
});

test('all hosts reach each other: spoke ↔ hub, s1 ↔ s3 directly, s2 ↔ s1/s3 relayed by the hub', async () => {
  for (const s of ['s1', 's2', 's3']) {
    const there = await pingTtl(s, 'hub');
    assert.is(there.received, 3, `${s} → hub`);
    assert.is((await pingTtl('hub', s)).received, 3, `hub → ${s}`);
  }
  // Direct: the far edge's LAN program and the near edge's kernel take the reply's TTL from 64 to 62.
  const direct = await pingTtl('s1', 's3');
  assert.equal(direct, { received: 3, ttl: 62 });
  assert.equal(await pingTtl('s3', 's1'), { received: 3, ttl: 62 });
  // Relayed: one more forwarding hop, the hub's kernel (a relay route into the WireGuard device).
  const hubBefore = wgTo(await st.hub!.get(), 's2').txBytes;
  for (const [a, b] of [['s1', 's2'], ['s2', 's1'], ['s3', 's2'], ['s2', 's3']]) {
    assert.equal(await pingTtl(a!, b!), { received: 3, ttl: 61 }, `${a} → ${b} through the hub`);
  }
  assert.ok(wgTo(await st.hub!.get(), 's2').txBytes > hubBefore + 4 * 3 * 84, 'the hub sent the relayed packets into s2\'s tunnel');
  assert.match((await p.exec(lab, 'hub', ['ip', 'route', 'show', '10.2.0.0/24'])).stdout, /dev ptw[0-9a-f]{12} proto 249 .*metric 1000/);
});

test('NAT bindings that time out are re-created: traffic resumes through every NAT', async () => {
  for (const nat of ['home', 'lte', 'cg', 'cg-cgn']) {
    const r = await p.exec(lab, nat, ['sysctl', '-qw', 'net.netfilter.nf_conntrack_udp_timeout=2', 'net.netfilter.nf_conntrack_udp_timeout_stream=2']);
    assert.is(r.code, 0, r.stderr);
  }
  // With the shortened timeout, the probes and keepalives alone keep every binding: no loss while traffic flows.
  await sleep(3000);
  const steady = await p.exec(lab, 'h1', ['ping', '-c', '20', '-i', '0.2', '-W', '1', '10.3.0.10'], { timeoutMs: 20_000 });
  assert.match(steady.stdout, /20 packets transmitted, 20 received/);
  const before = wgTo(await st.hub!.get(), 's2').endpoint;
  const hubPeer = async () => (await p.exec(lab, 'hub', ['wg', 'show', wgTo(await st.hub!.get(), 's2').device, 'endpoints'])).stdout.trim().split(/\s+/)[1];
  const seenBefore = await hubPeer();
  assert.match(seenBefore!, /^198\.51\.100\.10:\d+$/);
  const live: Record<string, string[]> = {};
  for (const [nat, inside] of Object.entries(INSIDE)) {
    live[nat] = (await bindings(nat, inside)).filter((b) => b.leftS <= 2).map((b) => b.tuple);
    assert.ok(live[nat]!.length > 0, `${nat} holds bindings for ${inside} under the 2 s timeout while traffic flows`);
  }
  // Silence longer than the timeout around every NAT: every binding through home, lte and both cg layers expires.
  // Both sides of every NAT: a packet from either direction refreshes a binding.
  const cut = ['s1:wan0', 's2:wan0', 's3:wan0', 'home:up0', 'lte:up0', 'cg-cgn:up0'];
  await Promise.all(cut.map((e) => p.setLinkState(lab, e, 'down')));
  try {
    await sleep(6000);
    for (const [nat, inside] of Object.entries(INSIDE)) {
      const still = (await bindings(nat, inside)).filter((b) => live[nat]!.includes(b.tuple));
      assert.equal(still, [], `every binding of ${nat} that traffic used expired`);
    }
  } finally {
    await Promise.all(cut.map((e) => p.setLinkState(lab, e, 'up')));
  }
  await st.s1!.until('s1: hub and s3 up again', 40_000, (s) => peersUp(s).join() === 'hub,s3');
  await st.s2!.until('s2: hub up again', 40_000, (s) => peersUp(s).join() === 'hub');
  await st.s3!.until('s3: hub and s1 up again', 40_000, (s) => peersUp(s).join() === 'hub,s1');
  assert.equal(await pingTtl('s1', 's3'), { received: 3, ttl: 62 });
  assert.equal(await pingTtl('s1', 's2'), { received: 3, ttl: 61 });
  assert.is((await pingTtl('hub', 's2')).received, 3);
  // The hub still talks to s2 where the NAT put it (its keyed-hash port, not the bundle's listen port).
  const seenAfter = await hubPeer();
  assert.match(seenAfter!, /^198\.51\.100\.10:\d+$/);
  assert.is.not(seenAfter, before, 'the hub roamed away from the bundle\'s guess');
});

test('destroying the lab leaves no namespace, WireGuard daemon or state behind', async () => {
  const r = await p.destroy(lab);
  assert.is(r.namespaces.length, 13, 'twelve lab nodes and the generated carrier layer cg-cgn');
  assert.equal(execFileSync('ip', ['netns', 'list']).toString().split('\n').filter((l) => l.startsWith(`pt.${lab}.`)), []);
  assert.not.ok(existsSync(`/run/patronus/${lab}`));
});

test.run();

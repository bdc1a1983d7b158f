// timeout: 90
// Lab labs/bgp-ipv6: the edge agent's speaker peers over IPv6 with BIRD (isp1) and FRR (isp2), learns their
// IPv6 prefixes with global + link-local next hops (RFC 2545) and installs them in the edge's kernel
// (`via fe80::… dev wanN proto 250`) and in pt_routes6; a LAN host pings a host behind BIRD over the
// learned route; a prefix each daemon withdraws leaves the kernel and the map.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { agentRequest } from '../../dataplane/agent/index.ts';
import { BpfMap } from '../../dataplane/xdp/index.ts';
import { routeKey6, routeVal, RouteKind } from '../../dataplane/xdp/maps.ts';
import { getProvider, routerSocket } from '../../twin/index.ts';
import { bringUp, prepareLab } from '../../controller/cli/twin.ts';

const p = getProvider('netns');
const lab = `b6${process.pid}`;
const prepared = prepareLab('labs/bgp-ipv6/lab.yaml', { name: lab });
const birdSock = routerSocket(lab, prepared.lab.nodes.isp1!);
const frrDir = routerSocket(lab, prepared.lab.nodes.isp2!);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const status = async () => (await agentRequest(p.agentSocket(lab, 'edge1'), 'GET', '/status', undefined, 3000)).body;
const birdc = (...args: string[]) => execFileSync('birdc', ['-s', birdSock, ...args]).toString();
const vtysh = (...cmds: string[]) => execFileSync('vtysh', ['--vty_socket', frrDir, ...cmds.flatMap((c) => ['-c', c])], { timeout: 5000 }).toString();
/** The edge's proto-250 IPv6 routes: prefix → "via X dev Y". */
async function kernel6(): Promise<Map<string, string>> {
  const r = await p.exec(lab, 'edge1', ['ip', '-6', '-j', 'route', 'show', 'proto', '250']);
  const rows = JSON.parse(r.stdout || '[]') as { dst: string; gateway?: string; dev?: string }[];
  return new Map(rows.map((x) => [x.dst, `via ${x.gateway} dev ${x.dev}`]));
}
/**
 * pt_routes6 of the edge, "prefix kind" per entry. The agent pins under /sys/fs/bpf inside its own mount
 * namespace (`ip netns exec` mounts a fresh /sys), so the pin is reached through /proc/<agent pid>/root.
 */
async function map6(): Promise<string[]> {
  const pid = (await status()).pid as number;
  const m = BpfMap.fromPinned(join(`/proc/${pid}/root/sys/fs/bpf/patronus`, lab, 'edge1', 'pt_routes6'));
  try {
    const kinds = Object.fromEntries(Object.entries(RouteKind).map(([k, v]) => [v, k]));
    return m.entries().map(([k, v]) => {
      const key = routeKey6.decode(k);
      return `${key.addr}/${key.prefixlen - 32} ${kinds[routeVal.decode(v).kind]}`;
    }).sort();
  } finally { m.close(); }
}
/** Link-local address of a router's interface facing the edge. */
async function linkLocal(node: string): Promise<string> {
  const r = await p.exec(lab, node, ['ip', '-6', '-j', 'addr', 'show', 'dev', 'eth1', 'scope', 'link']);
  return (JSON.parse(r.stdout) as { addr_info: { local?: string }[] }[])[0]!.addr_info.find((a) => a.local)!.local!;
}
async function waitFor<T>(what: string, get: () => Promise<T>, ok: (x: T) => boolean, timeoutMs: number): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const x = await get();
    if (ok(x)) return x;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms (last ${JSON.stringify(x instanceof Map ? [...x] : x)}; bgp ${JSON.stringify((await status().catch(() => ({})))?.bgp)})`);
    await sleep(100);
  }
}

let ll2 = '';
test.after(async () => { await p.destroy(lab); });

test('the edge bundle carries IPv6 interface addresses and IPv6 neighbours', () => {
  const b = prepared.bundles.get('edge1')!.bundle;
  assert.equal(b.interfaces.wan.map((w) => `${w.name} ${w.ipv6}`), ['wan0 2001:db8:ff:1::1/64', 'wan1 2001:db8:ff:2::1/64']);
  assert.equal(b.interfaces.lan.map((l) => `${l.name} ${l.ipv6}`), ['lan0 2001:db8:1::1/64']);
  assert.equal(b.bgp.neighbors!.map((n) => n.address), ['2001:db8:ff:1::2', '2001:db8:ff:2::2']);
});

test('both IPv6 sessions come up and the learned prefixes reach the kernel (FRR: via its link-local next hop, BIRD: via its global one)', async () => {
  await bringUp(p, prepared, { out: new Writable({ write: (_c, _e, cb) => cb() }) });
  await waitFor('both sessions established', status, (s) => s.bgp?.neighbors.every((n: { state: string }) => n.state === 'Established'), 30_000);
  ll2 = await linkLocal('isp2');
  const routes = await waitFor('IPv6 kernel routes', kernel6, (m) => m.has('2001:db8:100::/48') && m.has('2001:db8:101::/48') && m.has('2001:db8:200::/48') && m.has('2001:db8:50::/64'), 15_000);
  // FRR sends global + link-local (32-byte next hop); BIRD 2.0.12 sends its global address only on this
  // session. The link-local one, when present, is the gateway (as BIRD itself installs it).
  assert.is(routes.get('2001:db8:200::/48'), `via ${ll2} dev wan1`);
  assert.is(routes.get('2001:db8:100::/48'), 'via 2001:db8:ff:1::2 dev wan0');
  assert.is(routes.get('2001:db8:101::/48'), 'via 2001:db8:ff:1::2 dev wan0');
  assert.is(routes.get('2001:db8:50::/64'), 'via 2001:db8:ff:1::2 dev wan0');
  // The link subnets both routers announce (connected) are shadowed by the edge's own connected subnets.
  assert.not.ok(routes.has('2001:db8:ff:1::/64'));
  const r = (await agentRequest(p.agentSocket(lab, 'edge1'), 'GET', '/bgp/routes', undefined, 3000)).body;
  const inst = r.installed.find((x: { prefix: string }) => x.prefix === '2001:db8:200::/48');
  assert.equal({ nextHop: inst.nextHop, via: inst.via, dev: inst.dev, kind: inst.kind }, { nextHop: '2001:db8:ff:2::2', via: ll2, dev: 'wan1', kind: 'internet' });
  assert.ok(r.skipped.some((x: { prefix: string; reason: string }) => x.prefix === '2001:db8:ff:1::/64' && /shadowed by a connected/.test(x.reason)));
});

test('the learned IPv6 prefixes are in pt_routes6 as internet routes', async () => {
  const m = await waitFor('pt_routes6 entries', map6, (xs) => xs.includes('2001:db8:200::/48 internet'), 5_000);
  for (const pfx of ['2001:db8:100::/48', '2001:db8:101::/48', '2001:db8:50::/64']) assert.ok(m.includes(`${pfx} internet`), `${pfx} in ${m.join(', ')}`);
});

test('BIRD and FRR learned the edge\'s IPv6 LAN', async () => {
  assert.match((await p.exec(lab, 'isp1', ['ip', '-6', 'route', 'show', '2001:db8:1::/64'])).stdout, /via 2001:db8:ff:1::1 dev eth1 proto bird/);
  const frr = await waitFor('FRR route to the edge LAN', async () => vtysh('show bgp ipv6 unicast 2001:db8:1::/64'), (s) => /2001:db8:ff:2::1/.test(s), 5_000);
  assert.match(frr, /65010/);
});

test('a LAN host pings the host behind BIRD over the learned IPv6 route', async () => {
  const ping = async () => (await p.exec(lab, 'host1', ['ping', '-6', '-c', '3', '-i', '0.2', '-W', '2', '2001:db8:50::10'])).stdout;
  const out = await waitFor('IPv6 ping', ping, (s) => /3 packets transmitted, 3 received/.test(s), 10_000);
  assert.match(out, /0% packet loss/);
});

test('a prefix BIRD withdraws and one FRR withdraws leave the kernel and pt_routes6; the rest stays', async () => {
  birdc('disable', 'originate6'); // the static protocol: 2001:db8:100::/48 and 2001:db8:101::/48 withdrawn, session up
  vtysh('configure terminal', 'router bgp 65002', 'address-family ipv6 unicast', 'no network 2001:db8:200::/48');
  const routes = await waitFor('withdrawn routes gone', kernel6, (m) => !m.has('2001:db8:100::/48') && !m.has('2001:db8:101::/48') && !m.has('2001:db8:200::/48'), 10_000);
  assert.is(routes.get('2001:db8:50::/64'), 'via 2001:db8:ff:1::2 dev wan0');
  const m = await waitFor('pt_routes6 without them', map6, (xs) => !xs.some((x) => /2001:db8:(100|101|200)::/.test(x)), 5_000);
  assert.ok(m.includes('2001:db8:50::/64 internet'));
  const s = (await status()).bgp;
  assert.ok(s.neighbors.every((n: { state: string }) => n.state === 'Established'));
});

test.run();

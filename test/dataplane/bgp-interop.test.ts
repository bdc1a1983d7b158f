// timeout: 240
// Interop on the twin: the Patronus speaker (in host node p) against BIRD 2 (r1) and FRR bgpd (r2) as
// real peers. BIRD is passive (we dial); FRR dials us (we are passive). IPv4 and IPv6 with communities
// and large communities both ways and in transit, withdrawals, route refresh both ways, best-path
// agreement with BIRD on crafted competing routes from three feeders, a frozen peer (hold-timer expiry),
// a killed and restarted peer, and NOTIFICATION Cease on shutdown in both directions.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getProvider, parseLab, nsName } from '../../twin/index.ts';
import { SpeakerProc } from './bgp-proc.ts';

const prov = getProvider('netns');
const lab = `bg${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'pt-bgp-'));
const nodeDir = (n: string) => `/run/patronus/${lab}/nodes/${n}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const procs: SpeakerProc[] = [];

const timers = ['hold time 3;', 'keepalive time 1;', 'connect retry time 1;', 'error wait time 1, 5;', 'graceful restart off;'].join(' ');
const birdExtra = [
  'protocol static s4 { ipv4; route 10.101.0.0/16 unreachable; route 10.101.1.0/24 unreachable; }',
  'protocol static s6 { ipv6; route 2001:db8:101::/48 unreachable; }',
  'filter pt_out4 { if proto = "s4" then { if net = 10.101.0.0/16 then { bgp_community.add((65001,100)); bgp_large_community.add((65001,1,2)); } accept; } reject; }',
  'filter pt_out6 { if proto = "s6" then { bgp_community.add((65001,106)); bgp_large_community.add((65001,6,6)); accept; } reject; }',
  `protocol bgp pt { local 10.0.1.1 as 65001; neighbor 10.0.1.2 as 65010; passive on; ${timers}`,
  '  ipv4 { import all; export filter pt_out4; }; ipv6 { import all; export filter pt_out6; next hop address fd00:1::1; }; }',
  ...[['f1', 11, 65101], ['f2', 12, 65101], ['f3', 13, 65103]].map(([n, a, as]) => `protocol bgp ${n} { local 10.0.1.1 as 65001; neighbor 10.0.1.${a} as ${as}; passive on; ${timers} ipv4 { import all; export none; }; }`),
];
const frrExtra = [
  ' neighbor 10.0.2.2 remote-as 65010', ' neighbor 10.0.2.2 timers 1 3', ' neighbor 10.0.2.2 timers connect 1',
  ' address-family ipv4 unicast', '  network 10.102.0.0/16 route-map C4', '  neighbor 10.0.2.2 send-community all', ' exit-address-family',
  ' address-family ipv6 unicast', '  network 2001:db8:102::/48 route-map C6', '  neighbor 10.0.2.2 activate', '  neighbor 10.0.2.2 send-community all', ' exit-address-family',
  'exit',
  'route-map C4 permit 10', ' set community 65002:100', ' set large-community 65002:1:2', 'exit',
  'route-map C6 permit 10', ' set community 65002:106', ' set large-community 65002:6:6', 'exit',
];
const labText = JSON.stringify({
  name: 'bgp-interop',
  topology: {
    nodes: {
      r1: { kind: 'router', router: { daemon: 'bird', asn: 65001, routerId: '10.0.0.1', extraConfig: birdExtra } },
      r2: { kind: 'router', router: { daemon: 'frr', asn: 65002, routerId: '10.0.0.2', extraConfig: frrExtra } },
      p: { kind: 'host' },
    },
    links: [
      { endpoints: [{ node: 'p', interface: 'eth0', ipv4: '10.0.1.2/24', ipv6: 'fd00:1::2/64' }, { node: 'r1', interface: 'eth1', ipv4: '10.0.1.1/24', ipv6: 'fd00:1::1/64' }] },
      { endpoints: [{ node: 'p', interface: 'eth1', ipv4: '10.0.2.2/24', ipv6: 'fd00:2::2/64' }, { node: 'r2', interface: 'eth1', ipv4: '10.0.2.1/24', ipv6: 'fd00:2::1/64' }] },
    ],
  },
});

const fast = { holdTime: 3, connectRetryTime: 1, idleHoldTime: 1 };
const speakerCfg = {
  asn: 65010, routerId: '10.0.0.10',
  neighbors: [
    { address: '10.0.1.1', asn: 65001, ...fast, nextHop6: 'fd00:1::2', export: 'to-bird' },
    { address: '10.0.2.1', asn: 65002, ...fast, passive: true, nextHop6: 'fd00:2::2', export: 'to-frr' },
    ...[['10.0.1.11', 65101], ['10.0.1.12', 65101], ['10.0.1.13', 65103]].map(([a, as]) => ({ address: a, asn: as, ...fast, passive: true, families: ['ipv4'], export: 'nothing' })),
  ],
  networks: [{ prefix: '10.110.0.0/16', communities: ['65010:100', '65010:1:2'] }, { prefix: '2001:db8:110::/48', communities: ['65010:106', '65010:6:6'] }],
  policies: {
    'to-bird': { rules: [{ match: { prefixes: [{ prefix: '10.200.0.0/16', le: 32 }] }, action: 'deny' }] },
    'to-frr': { rules: [{ match: { prefixes: [{ prefix: '10.200.0.0/16', le: 32 }] }, action: 'deny' }] },
    nothing: { default: 'deny' },
  },
};

const birdc = (...args: string[]) => { try { return execFileSync('birdc', ['-s', join(nodeDir('r1'), 'bird.ctl'), ...args], { timeout: 5000 }).toString(); } catch (e) { return String((e as { stdout?: Buffer }).stdout ?? ''); } };
const vtysh = (...cmds: string[]) => { try { return execFileSync('vtysh', ['--vty_socket', nodeDir('r2'), ...cmds.flatMap((c) => ['-c', c])], { timeout: 5000 }).toString(); } catch (e) { return String((e as { stdout?: Buffer }).stdout ?? ''); } };
const frrJson = (cmd: string) => { try { return JSON.parse(vtysh(cmd)) as Record<string, unknown>; } catch { return {}; } };
const frrHas = (afi: 'ipv4' | 'ipv6', prefix: string) => Object.keys((frrJson(`show bgp ${afi} unicast json`).routes ?? {}) as object).includes(prefix);
const birdHas = (prefix: string, table = 'master4') => birdc('show', 'route', 'for', prefix, 'table', table, 'protocol', 'pt').includes(prefix.split('/')[0]!);

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(200);
  }
  return Date.now() - t0;
}

let sp: SpeakerProc;
const ours = async (p: string) => (await sp.routes()).find((r) => r.prefix === p);
const stateOf = async (a: string) => (await sp.status()).find((n) => n.address === a)?.state;
const birdPid = () => Number(readFileSync(join(nodeDir('r1'), 'bird.pid'), 'utf8').trim());

test.after(async () => {
  for (const p of procs) p.kill();
  try { process.kill(birdPid(), 'SIGCONT'); } catch { /* gone */ }
  await prov.destroy(lab);
  rmSync(dir, { recursive: true, force: true });
});

test('the speaker reaches Established with BIRD (we dial) and FRR (it dials)', async () => {
  await prov.deploy(parseLab(labText, 'bgp-interop.json', { rename: lab }));
  for (const a of ['10.0.1.11', '10.0.1.12', '10.0.1.13']) await prov.exec(lab, 'p', ['ip', 'addr', 'add', `${a}/24`, 'dev', 'eth0']);
  sp = new SpeakerProc(nsName(lab, 'p'), speakerCfg, join(dir, 'p.json'));
  procs.push(sp);
  await sp.waitLine((l) => l.event === 'started');
  await until('both sessions established', async () => (await stateOf('10.0.1.1')) === 'Established' && (await stateOf('10.0.2.1')) === 'Established');
  assert.match(birdc('show', 'protocols', 'pt'), /Established/);
  const peers = ((frrJson('show bgp summary json').ipv4Unicast as { peers?: Record<string, { state: string }> })?.peers) ?? {};
  assert.is(peers['10.0.2.2']?.state, 'Established');
  const open = sp.lines.find((l) => l.event === 'session' && l.address === '10.0.2.1' && l.to === 'OpenSent');
  assert.is(open?.reason, 'peer connected', 'FRR opened the connection');
  const bird = sp.lines.find((l) => l.event === 'session' && l.address === '10.0.1.1' && l.to === 'OpenSent');
  assert.is(bird?.reason, 'connected', 'we opened the connection to BIRD');
});

test('IPv4 and IPv6 routes with communities and large communities arrive from BIRD and FRR', async () => {
  await until('routes from both daemons', async () => {
    const ps = (await sp.routes()).map((r) => r.prefix);
    return ['10.101.0.0/16', '2001:db8:101::/48', '10.102.0.0/16', '2001:db8:102::/48'].every((p) => ps.includes(p));
  });
  const b4 = (await ours('10.101.0.0/16'))!;
  assert.is(b4.nextHop, '10.0.1.1');
  assert.is(b4.asPath, '65001');
  assert.equal(b4.communities, ['65001:100']);
  assert.equal(b4.largeCommunities, ['65001:1:2']);
  const b6 = (await ours('2001:db8:101::/48'))!;
  assert.is(b6.nextHop, 'fd00:1::1');
  assert.equal(b6.communities, ['65001:106']);
  assert.equal(b6.largeCommunities, ['65001:6:6']);
  const f4 = (await ours('10.102.0.0/16'))!;
  assert.is(f4.nextHop, '10.0.2.1');
  assert.equal(f4.communities, ['65002:100']);
  assert.equal(f4.largeCommunities, ['65002:1:2']);
  const f6 = (await ours('2001:db8:102::/48'))!;
  assert.match(f6.nextHop, /^fd00:2::1$/);
  assert.equal(f6.largeCommunities, ['65002:6:6']);
});

test('our IPv4 and IPv6 routes reach BIRD and FRR with their communities, and transit routes cross', async () => {
  await until('our routes at BIRD and FRR', () => birdHas('10.110.0.0/16') && birdHas('2001:db8:110::/48', 'master6') && frrHas('ipv4', '10.110.0.0/16') && frrHas('ipv6', '2001:db8:110::/48'));
  const b = birdc('show', 'route', 'for', '10.110.0.0/16', 'all');
  assert.match(b, /BGP\.as_path: 65010\s*\n/);
  assert.match(b, /BGP\.next_hop: 10\.0\.1\.2/);
  assert.match(b, /BGP\.community: \(65010,100\)/);
  assert.match(b, /BGP\.large_community: \(65010, 1, 2\)/);
  const b6 = birdc('show', 'route', 'for', '2001:db8:110::/48', 'table', 'master6', 'all');
  assert.match(b6, /BGP\.next_hop: fd00:1::2/);
  assert.match(b6, /BGP\.community: \(65010,106\)/);
  const f = JSON.stringify(frrJson('show bgp ipv4 unicast 10.110.0.0/16 json'));
  assert.match(f, /65010:100/);
  assert.match(f, /65010:1:2/);
  const f6 = JSON.stringify(frrJson('show bgp ipv6 unicast 2001:db8:110::/48 json'));
  assert.match(f6, /65010:6:6/);
  // Transit: BIRD's route reaches FRR through us with our AS prepended, communities intact.
  await until('transit at FRR', () => frrHas('ipv4', '10.101.0.0/16') && frrHas('ipv6', '2001:db8:101::/48'));
  const t = JSON.stringify(frrJson('show bgp ipv4 unicast 10.101.0.0/16 json'));
  assert.match(t, /"65010 65001"/);
  assert.match(t, /65001:1:2/);
  await until('transit at BIRD', () => birdHas('10.102.0.0/16'));
  assert.match(birdc('show', 'route', 'for', '10.102.0.0/16', 'all'), /BGP\.as_path: 65010 65002/);
});

test('withdrawals reach both daemons and the routes come back when originated again', async () => {
  await sp.request({ cmd: 'withdraw', prefix: '10.110.0.0/16' });
  await sp.request({ cmd: 'withdraw', prefix: '2001:db8:110::/48' });
  await until('gone from BIRD and FRR', () => !birdHas('10.110.0.0/16') && !birdHas('2001:db8:110::/48', 'master6') && !frrHas('ipv4', '10.110.0.0/16') && !frrHas('ipv6', '2001:db8:110::/48'));
  await sp.request({ cmd: 'originate', prefix: '10.110.0.0/16', communities: ['65010:100'] });
  await until('back at BIRD and FRR', () => birdHas('10.110.0.0/16') && frrHas('ipv4', '10.110.0.0/16'));
  // A withdrawal by a daemon reaches us: FRR drops its network.
  vtysh('configure terminal', 'router bgp 65002', 'address-family ipv4 unicast', 'no network 10.102.0.0/16 route-map C4');
  await until('FRR withdrawal seen by us and passed on to BIRD', async () => !(await ours('10.102.0.0/16')) && !birdHas('10.102.0.0/16'));
  vtysh('configure terminal', 'router bgp 65002', 'address-family ipv4 unicast', 'network 10.102.0.0/16 route-map C4');
  await until('FRR route back', async () => !!(await ours('10.102.0.0/16')));
});

test('route refresh works both ways', async () => {
  const stats = () => ((frrJson('show bgp neighbors 10.0.2.2 json')['10.0.2.2'] as { messageStats?: { routeRefreshRecv?: number } })?.messageStats?.routeRefreshRecv ?? 0);
  const before = stats();
  await sp.request({ cmd: 'refresh', address: '10.0.2.1' });
  await until('FRR received our ROUTE-REFRESH', () => stats() > before, 10_000);
  const from = sp.lines.length;
  birdc('reload', 'in', 'pt');
  await sp.waitLine((l) => l.event === 'log' && /10\.0\.1\.1: route refresh requested for AFI 1/.test(String(l.text)), 10_000, from);
  vtysh('clear bgp 10.0.2.2 soft in');
  await sp.waitLine((l) => l.event === 'log' && /10\.0\.2\.1: route refresh requested/.test(String(l.text)), 10_000, from);
  await until('routes still in place at BIRD', () => birdHas('10.110.0.0/16'));
});

// Feeders f1 (AS 65101, id 1.1.1.1), f2 (AS 65101, id 2.2.2.2), f3 (AS 65103, id 3.3.3.3) offer each prefix
// to both BIRD and our speaker with crafted attributes; both must pick the same feeder.
const cases: { prefix: string; what: string; offers: (Record<string, unknown> | undefined)[] }[] = [
  { prefix: '10.200.1.0/24', what: 'shortest AS path', offers: [{ asPath: [1, 2] }, { asPath: [3] }, { asPath: [4, 5, 6] }] },
  { prefix: '10.200.2.0/24', what: 'lowest origin', offers: [{ origin: 2, asPath: [7] }, { origin: 1, asPath: [7] }, { origin: 0, asPath: [7] }] },
  { prefix: '10.200.3.0/24', what: 'MED within one neighbour AS', offers: [{ med: 50, asPath: [7] }, { med: 10, asPath: [7] }, { med: 0, asPath: [7, 8] }] },
  { prefix: '10.200.4.0/24', what: 'MED ignored across neighbour ASes', offers: [{ med: 100, asPath: [7] }, { asPath: [7, 8] }, { med: 0, asPath: [7] }] },
  { prefix: '10.200.5.0/24', what: 'lowest router id', offers: [{ asPath: [7] }, { asPath: [7] }, { asPath: [7] }] },
  { prefix: '10.200.6.0/24', what: 'router id among the remaining', offers: [undefined, { asPath: [7, 9] }, { asPath: [7, 8] }] },
  { prefix: '10.200.7.0/24', what: 'origin before MED', offers: [{ origin: 1, med: 0, asPath: [7] }, { origin: 0, med: 99, asPath: [7] }, { origin: 2, asPath: [7] }] },
];
const feeders = [['f1', '10.0.1.11', 65101, '1.1.1.1'], ['f2', '10.0.1.12', 65101, '2.2.2.2'], ['f3', '10.0.1.13', 65103, '3.3.3.3']] as const;

test('our best-path choice agrees with BIRD on crafted competing routes', async () => {
  const fs = feeders.map(([name, addr, asn, rid]) => {
    const f = new SpeakerProc(nsName(lab, 'p'), {
      asn, routerId: rid, listen: { port: 0 },
      neighbors: [{ address: '10.0.1.1', asn: 65001, localAddress: addr, ...fast, families: ['ipv4'] }, { address: '10.0.1.2', asn: 65010, localAddress: addr, ...fast, families: ['ipv4'] }],
    }, join(dir, `${name}.json`));
    procs.push(f);
    return f;
  });
  for (const [i, f] of fs.entries()) {
    await f.waitLine((l) => l.event === 'started');
    for (const c of cases) {
      const o = c.offers[i];
      if (!o) continue;
      await f.request({ cmd: 'originate-route', prefix: c.prefix, attrs: { origin: o.origin ?? 0, asPath: [{ type: 2, asns: o.asPath }], ...(o.med !== undefined ? { med: o.med } : {}) } });
    }
  }
  await until('every feeder established with both', async () => {
    for (const f of fs) if ((await f.status()).some((n) => n.state !== 'Established')) return false;
    return true;
  }, 30_000);
  const birdBest = (p: string) => /\[(f\d) /.exec(birdc('show', 'route', 'for', p, 'primary'))?.[1];
  const byAddr = Object.fromEntries(feeders.map(([n, a]) => [a, n]));
  const want = cases.map((c) => c.offers.filter(Boolean).length);
  await until('all offers in both RIBs', async () => {
    for (const [k, c] of cases.entries()) {
      const n = (birdc('show', 'route', 'for', c.prefix, 'all').match(/\[f\d /g) ?? []).length;
      if (n !== want[k] || !(await ours(c.prefix))) return false;
    }
    return true;
  }, 20_000);
  await sleep(1000); // let the last offers settle on our side too
  const results = [];
  for (const c of cases) results.push({ what: c.what, bird: birdBest(c.prefix), ours: byAddr[(await ours(c.prefix))!.peer] });
  console.log('  best paths', JSON.stringify(results));
  for (const r of results) assert.is(r.ours, r.bird, r.what);
  assert.equal(results.map((r) => r.ours), ['f2', 'f3', 'f2', 'f1', 'f1', 'f2', 'f2']);
  for (const f of fs) { await f.request({ cmd: 'stop' }).catch(() => {}); f.kill(); }
});

test('a frozen BIRD trips our hold timer, its routes are withdrawn, and thawing it reconverges', async () => {
  const pid = birdPid();
  process.kill(pid, 'SIGSTOP');
  const from = sp.lines.length;
  const ms = await until('session down on hold expiry', async () => (await stateOf('10.0.1.1')) !== 'Established', 15_000);
  console.log(`  hold timer expired ${ms} ms after freezing BIRD`);
  await sp.waitLine((l) => l.event === 'session' && l.address === '10.0.1.1' && /Hold Timer Expired/.test(String(l.reason)), 5000, from);
  await until('BIRD routes withdrawn here and at FRR', async () => !(await ours('10.101.0.0/16')) && !frrHas('ipv4', '10.101.0.0/16'), 10_000);
  process.kill(pid, 'SIGCONT');
  const back = await until('reconverged', async () => (await stateOf('10.0.1.1')) === 'Established' && !!(await ours('10.101.0.0/16')) && frrHas('ipv4', '10.101.0.0/16'), 30_000);
  console.log(`  reconverged ${back} ms after thawing BIRD`);
});

test('a killed BIRD takes its routes with it and a restarted one reconverges', async () => {
  process.kill(birdPid(), 'SIGKILL');
  await until('routes withdrawn', async () => !(await ours('10.101.0.0/16')), 15_000);
  const ns = nsName(lab, 'r1');
  execFileSync('ip', ['netns', 'exec', ns, 'bird', '-c', join(nodeDir('r1'), 'bird.conf'), '-s', join(nodeDir('r1'), 'bird.ctl'), '-P', join(nodeDir('r1'), 'bird.pid')]);
  await until('reconverged after restart', async () => (await stateOf('10.0.1.1')) === 'Established' && !!(await ours('10.101.0.0/16')) && birdHas('10.110.0.0/16'), 30_000);
});

test('NOTIFICATION Cease on shutdown in both directions', async () => {
  const from = sp.lines.length;
  vtysh('configure terminal', 'router bgp 65002', 'neighbor 10.0.2.2 shutdown');
  await sp.waitLine((l) => l.event === 'session' && l.address === '10.0.2.1' && /received Cease \/ Administrative Shutdown/.test(String(l.reason)), 10_000, from);
  await until('FRR routes withdrawn', async () => !(await ours('10.102.0.0/16')));
  vtysh('configure terminal', 'router bgp 65002', 'no neighbor 10.0.2.2 shutdown');
  await until('FRR back', async () => (await stateOf('10.0.2.1')) === 'Established');
  await sp.request({ cmd: 'stop' });
  await until('BIRD saw our Cease', () => /Received: Administrative shutdown/i.test(birdc('show', 'protocols', 'all', 'pt')), 10_000);
  await until('FRR saw our Cease', () => /Administrative Shutdown/i.test(vtysh('show bgp neighbors 10.0.2.2')), 10_000);
});

test.run();

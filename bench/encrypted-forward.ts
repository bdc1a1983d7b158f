/**
 * bench/encrypted-forward.ts — what Patronus steering costs on top of WireGuard encryption, measured against
 * the Linux-native equivalent on the same WireGuard devices in the same run:
 *
 *   src ns ──veth── edge A ns ══ WireGuard over a veth underlay ══ edge B ns ──veth── sink ns
 *
 * - `patronus`: the real tc LAN program (bpf/build/lan_ingress_tc.bpf.o) on both edges' LAN veths, their
 *   maps programmed from a bundle with one encrypted path through dataplane/xdp/fib.ts exactly as the agent
 *   does: parse, segment, LPM route, classify, steer, MTU/MSS clamp, redirect into the path's WireGuard device;
 * - `linux`: no program; on both edges nftables marks the LAN traffic (and clamps the MSS to the route MTU,
 *   as any Linux tunnel set-up must) and an fwmark rule selects a table whose route sends it into the same
 *   WireGuard device (the main tables have no route to the far site, so only the policy route carries it).
 * Each edge's WireGuard device hands decrypted packets to its kernel, which forwards them to its LAN. The
 * devices come from dataplane/wg (kernel module where present, else wireguard-go).
 *
 * Per variant, interleaved, `--runs` times (default 5): iperf3 TCP throughput (`--seconds`, default 3) and
 * the packet rate of small UDP datagrams (iperf3 -u -b 0 -l 64: received datagrams per second). A variant
 * that delivers nothing (a ping or a 1 s TCP transfer across fails before the runs) makes the bench exit 1
 * without figures.
 * The last line is one JSON object: {"bench":"encrypted-forward","wg_impl":..,"patronus_mbps":..,
 * "linux_mbps":..,"ratio":..,"patronus_kpps":..,"linux_kpps":..,"pps_ratio":..,"spread":{..},"runs":[..]}
 * with medians over the runs; spread = (max − min) / median per figure.
 *
 * Run (root): flock /tmp/pt-heavy.lock npx tsx bench/encrypted-forward.ts [--runs N] [--seconds S] [--quick]
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Bundle, BUNDLE_API_VERSION } from '../dataplane/index.ts';
import { fibEntries } from '../dataplane/xdp/fib.ts';
import { BpfObject, ensureBpffs, ifindex, perCpuMap } from '../dataplane/xdp/index.ts';
import * as M from '../dataplane/xdp/maps.ts';
import { configureDevice, detectImpl, deviceName, ensureDevice, ensureKeyFile, removeDevice } from '../dataplane/wg/index.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const lab = `ef${process.pid}`;
const NS = { s: `pt.${lab}.s`, a: `pt.${lab}.a`, b: `pt.${lab}.b`, k: `pt.${lab}.k` } as const;
const pinRoot = `/sys/fs/bpf/patronus/${lab}`;
const ADDR = { src: '10.1.0.2', dst: '10.2.0.2', a1: '192.168.77.1', b1: '192.168.77.2' };
const WG = { portA: 51821, portB: 51822, addrA: '169.254.0.0', addrB: '169.254.0.1', fwmark: '0x77', table: '177' };
const state = mkdtempSync(join(tmpdir(), 'pt-ef-'));
const devA = deviceName(state, 'a'), devB = deviceName(state, 'b');

type Variant = 'patronus' | 'linux';
interface Run { v: Variant; mbps: number; kpps: number; load: number[] }
interface Opts { runs: number; seconds: number }

function parseArgs(argv: string[]): Opts {
  const o: Opts = { runs: 5, seconds: 3 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!, v = argv[i + 1];
    const num = (min: number) => { const n = Number(v); if (!Number.isFinite(n) || n < min) usage(`${a} expects a number ≥ ${min}, got ${v}`); i++; return n; };
    if (a === '--runs') o.runs = Math.round(num(1));
    else if (a === '--seconds') o.seconds = num(1);
    else if (a === '--quick') { o.runs = 1; o.seconds = 1; }
    else usage(`unknown argument ${a}`);
  }
  return o;
}

function usage(msg: string): never {
  console.error(`encrypted-forward: ${msg}\nusage: npx tsx bench/encrypted-forward.ts [--runs N] [--seconds S] [--quick]`);
  process.exit(2);
}

const run = (cmd: string, args: string[], input?: string) => execFileSync(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], input }).toString();
const nsx = (n: string, ...cmd: string[]) => run('ip', ['netns', 'exec', n, ...cmd]);
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
const children = new Set<ChildProcess>();

/** An edge as the agent sees it: one LAN, one encrypted path to the other site. */
function edgeBundle(side: 'a' | 'b'): Bundle {
  const a = side === 'a';
  const [me, other] = a ? [1, 2] : [2, 1];
  return Bundle.parse({
    apiVersion: BUNDLE_API_VERSION, node: `edge-${side}`, site: `s${me}`, siteId: me, intent: 'encrypted-forward',
    interfaces: {
      wan: [{ name: `pt${side}1`, transport: 'inet', ipv4: [`${a ? ADDR.a1 : ADDR.b1}/30`], mtu: 1500, role: 'active', metered: false, bandwidthUp: 0, bandwidthDown: 0 }],
      lan: [{ name: `pt${side}0`, segment: 'default', ipv4: [`10.${me}.0.1/24`] }],
    },
    segments: [{ name: 'default', id: 1, routes: [
      { prefix: `10.${me}.0.0/24`, kind: 'local', interface: `pt${side}0` },
      { prefix: `10.${other}.0.0/24`, kind: 'remote', site: `s${other}`, siteId: other, via: `s${other}` },
    ] }],
    paths: [{ id: 1, peerNode: `edge-${a ? 'b' : 'a'}`, peerSite: `s${other}`, peerSiteId: other, transport: 'inet', remoteTransport: 'inet', localInterface: `pt${side}1`,
      localAddress: a ? ADDR.a1 : ADDR.b1, remoteAddress: a ? ADDR.b1 : ADDR.a1, mtu: 1500, role: 'active', probe: false, peerPathId: 1,
      wireguard: { listenPort: a ? WG.portA : WG.portB, peerPort: a ? WG.portB : WG.portA, address: a ? WG.addrA : WG.addrB, peerAddress: a ? WG.addrB : WG.addrA } }],
    classifier: [{ appClass: 'voice', classId: 1, priority: 10, protocol: 'udp', dstPorts: [[16384, 32767]], dscp: [46] }],
    rules: [{ name: 'default', segment: 'default', appClass: 'default', service: 'overlay', strategy: 'preference', preferred: ['inet'], perPacket: false }],
    slaClasses: [], qosClasses: [], bgp: {}, wanopt: {},
  });
}

async function buildTopology(): Promise<void> {
  for (const n of Object.values(NS)) { run('ip', ['netns', 'add', n]); nsx(n, 'ip', 'link', 'set', 'lo', 'up'); }
  run('ip', ['link', 'add', 'pts0', 'netns', NS.s, 'type', 'veth', 'peer', 'name', 'pta0', 'netns', NS.a]);
  run('ip', ['link', 'add', 'pta1', 'netns', NS.a, 'type', 'veth', 'peer', 'name', 'ptb1', 'netns', NS.b]);
  run('ip', ['link', 'add', 'ptb0', 'netns', NS.b, 'type', 'veth', 'peer', 'name', 'ptk0', 'netns', NS.k]);
  const up = (ns: string, dev: string, addr: string) => { nsx(ns, 'ip', 'addr', 'add', addr, 'dev', dev); nsx(ns, 'ip', 'link', 'set', dev, 'up'); };
  up(NS.s, 'pts0', `${ADDR.src}/24`); up(NS.a, 'pta0', '10.1.0.1/24'); up(NS.a, 'pta1', `${ADDR.a1}/30`);
  up(NS.b, 'ptb1', `${ADDR.b1}/30`); up(NS.b, 'ptb0', '10.2.0.1/24'); up(NS.k, 'ptk0', `${ADDR.dst}/24`);
  nsx(NS.s, 'ip', 'route', 'add', 'default', 'via', '10.1.0.1');
  nsx(NS.k, 'ip', 'route', 'add', 'default', 'via', '10.2.0.1');
  for (const n of [NS.a, NS.b]) nsx(n, 'sysctl', '-qw', 'net.ipv4.ip_forward=1', 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0');
  const impl = detectImpl();
  const keyA = join(state, 'a.key'), keyB = join(state, 'b.key');
  const pubA = ensureKeyFile(keyA), pubB = ensureKeyFile(keyB);
  await ensureDevice({ netns: NS.a }, impl, devA, join(state, 'a'));
  await ensureDevice({ netns: NS.b }, impl, devB, join(state, 'b'));
  configureDevice({ netns: NS.a }, devA, { privateKeyFile: keyA, listenPort: WG.portA, address: WG.addrA, mtu: 1440, peer: { publicKey: pubB, endpoint: `${ADDR.b1}:${WG.portB}` } });
  configureDevice({ netns: NS.b }, devB, { privateKeyFile: keyB, listenPort: WG.portB, address: WG.addrB, mtu: 1440, peer: { publicKey: pubA, endpoint: `${ADDR.a1}:${WG.portA}` } });
}

async function teardown(objs: BpfObject[]): Promise<void> {
  for (const c of children) c.kill('SIGKILL');
  for (const o of objs.splice(0)) o.close();
  await removeDevice({ netns: NS.a }, devA, join(state, 'a')).catch(() => {});
  await removeDevice({ netns: NS.b }, devB, join(state, 'b')).catch(() => {});
  for (const n of Object.values(NS)) spawnSync('ip', ['netns', 'del', n]);
  rmSync(pinRoot, { recursive: true, force: true });
  rmSync(`${pinRoot}-b`, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
}

/** Switch both edges' LAN sides to `v` (the other variant's pieces removed first). */
function setVariant(v: Variant, progs: { a: ReturnType<BpfObject['program']>; b: ReturnType<BpfObject['program']> }): void {
  for (const side of ['a', 'b'] as const) {
    const ns = NS[side], lan = `pt${side}0`, far = side === 'a' ? '10.2.0.0/24' : '10.1.0.0/24', dev = side === 'a' ? devA : devB;
    spawnSync('ip', ['netns', 'exec', ns, 'ip', 'rule', 'del', 'pref', '100']);
    spawnSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'ip', 'ptef']);
    try { progs[side].detachTc(lan, { direction: 'ingress', netns: ns }); } catch { /* not attached */ }
    if (v === 'patronus') { progs[side].attachTc(lan, { direction: 'ingress', netns: ns, replace: true }); continue; }
    run('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], `table ip ptef {\n chain pre {\n  type filter hook prerouting priority mangle; policy accept;\n` +
      `  iifname "${lan}" ip daddr ${far} meta mark set ${WG.fwmark}\n }\n chain clamp {\n  type filter hook forward priority mangle; policy accept;\n` +
      `  oifname "${dev}" tcp flags syn tcp option maxseg size set rt mtu\n }\n}\n`);
    nsx(ns, 'ip', 'rule', 'add', 'pref', '100', 'fwmark', WG.fwmark, 'table', WG.table);
    spawnSync('ip', ['netns', 'exec', ns, 'ip', 'route', 'replace', far, 'dev', dev, 'table', WG.table]);
  }
}

function iperf(args: string[]): any {
  const r = spawnSync('ip', ['netns', 'exec', NS.s, 'iperf3', '-J', '-c', ADDR.dst, ...args], { encoding: 'utf8', timeout: 60_000 });
  const j = JSON.parse(r.stdout || '{}');
  if (j.error || r.status !== 0) throw new Error(`iperf3 ${args.join(' ')}: ${j.error ?? r.stderr}`);
  return j;
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) { console.error('encrypted-forward: needs root (namespaces, tc, WireGuard)'); return 1; }
  const objPath = `${root}bpf/build/${M.PROGRAMS.lanTc.object}`;
  if (!existsSync(objPath)) { console.error(`encrypted-forward: ${objPath} missing: run node scripts/build.mjs`); return 1; }
  const objs: BpfObject[] = [];
  const onSignal = () => { void teardown(objs).then(() => process.exit(130)); };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await buildTopology();
    const impl = detectImpl();
    ensureBpffs();
    const objOf = (side: 'a' | 'b') => {
      const o = BpfObject.open(objPath, { pinRoot: side === 'a' ? pinRoot : `${pinRoot}-b` });
      objs.push(o);
      o.load();
      // The agent's own mapping from bundle to map entries, with this host's facts.
      const e = fibEntries(edgeBundle(side), { ifindex: (n) => ifindex(n, NS[side]), mac: () => '00:00:00:00:00:00', neighbour: () => undefined, wgDevice: () => (side === 'a' ? devA : devB) });
      if (e.unresolved.length || e.notes.length) throw new Error(`the bench bundle does not program cleanly: ${JSON.stringify(e)}`);
      for (const [name, entries] of Object.entries(e.maps)) for (const { key, value } of entries) o.map(name).update(key, value);
      return o;
    };
    const lan = objOf('a'), lanB = objOf('b');
    const prog = { a: lan.program(M.PROGRAMS.lanTc.program), b: lanB.program(M.PROGRAMS.lanTc.program) };
    const dropMap = perCpuMap(lan.map('pt_drops'), M.MAPS.pt_drops.key, M.counter);
    const reason = Object.fromEntries(Object.entries(M.DropReason).map(([n, v]) => [v, n]));
    const drops = () => Object.fromEntries([...dropMap.entries()].map(([k, v]) => [reason[k as number] ?? String(k), Number(M.sumCounters(v).packets)]).filter(([, n]) => n));
    const pmtu = () => spawnSync('ip', ['netns', 'exec', NS.s, 'ip', 'route', 'get', ADDR.dst], { encoding: 'utf8' }).stdout.trim();

    const server = spawn('ip', ['netns', 'exec', NS.k, 'iperf3', '-s'], { stdio: 'ignore' });
    children.add(server);
    await new Promise((r) => setTimeout(r, 500));
    // Correctness gate: each variant must carry a ping before it is measured.
    for (const v of ['patronus', 'linux'] as const) {
      setVariant(v, prog);
      const p = spawnSync('ip', ['netns', 'exec', NS.s, 'ping', '-c', '3', '-i', '0.2', '-W', '2', ADDR.dst], { encoding: 'utf8' });
      if (!/ 3 received/.test(p.stdout)) { console.error(`encrypted-forward: the ${v} variant does not deliver (ping: ${p.stdout.trim().split('\n').pop()})`); return 1; }
      const t = iperf(['-t', '1']).end.sum_received.bytes;
      if (!t) { console.error(`encrypted-forward: the ${v} variant carries no TCP; LAN program drops ${JSON.stringify(drops())}`); return 1; }
    }
    const runs: Run[] = [];
    for (let i = 0; i < o.runs; i++) {
      // Interleaved (and alternating who goes first) so drifting load hits both variants alike.
      for (const v of (i % 2 ? ['linux', 'patronus'] : ['patronus', 'linux']) as Variant[]) {
        setVariant(v, prog);
        const tcp = iperf(['-t', String(o.seconds)]);
        const mbps = tcp.end.sum_received.bits_per_second / 1e6;
        const u = iperf(['-u', '-b', '0', '-l', '64', '-t', String(o.seconds)]);
        const s = u.end.sum;
        const kpps = (s.packets - s.lost_packets) / s.seconds / 1000;
        const r = { v, mbps: Number(mbps.toFixed(1)), kpps: Number(kpps.toFixed(1)), load: load() };
        runs.push(r);
        console.error(`${v.padEnd(8)} run ${i + 1}: TCP ${r.mbps} Mbit/s, UDP-64 ${r.kpps} kpps received; load ${r.load.join(' ')}`);
      }
    }
    const median = (xs: number[]) => { const v = [...xs].sort((a, b) => a - b); return v.length % 2 ? v[v.length >> 1]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2; };
    const fig = (v: Variant, f: (r: Run) => number) => runs.filter((r) => r.v === v).map(f);
    const med = (v: Variant, f: (r: Run) => number) => Number(median(fig(v, f)).toFixed(1));
    const spread = (v: Variant, f: (r: Run) => number) => { const x = fig(v, f); return Number(((Math.max(...x) - Math.min(...x)) / median(x)).toFixed(3)); };
    const pm = med('patronus', (r) => r.mbps), lm = med('linux', (r) => r.mbps), pk = med('patronus', (r) => r.kpps), lk = med('linux', (r) => r.kpps);
    if (!pm || !lm || !pk || !lk) {
      console.error(`encrypted-forward: a variant measured zero; LAN program drops ${JSON.stringify(drops())}; sender's route ${pmtu()}`);
      return 1;
    }
    console.log(JSON.stringify({
      bench: 'encrypted-forward', wg_impl: impl, runs_per_variant: o.runs, seconds: o.seconds,
      patronus_mbps: pm, linux_mbps: lm, ratio: Number((pm / lm).toFixed(3)),
      patronus_kpps: pk, linux_kpps: lk, pps_ratio: Number((pk / lk).toFixed(3)),
      spread: { patronus_mbps: spread('patronus', (r) => r.mbps), linux_mbps: spread('linux', (r) => r.mbps), patronus_kpps: spread('patronus', (r) => r.kpps), linux_kpps: spread('linux', (r) => r.kpps) },
      load: load(), runs,
    }));
    return 0;
  } catch (e) {
    console.error(`encrypted-forward: ${(e as Error).message}`);
    return 1;
  } finally {
    await teardown(objs);
  }
}

process.exitCode = await main();

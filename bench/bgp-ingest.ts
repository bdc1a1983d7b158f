/**
 * bench/bgp-ingest.ts — how fast a full table lands in the Loc-RIB, Patronus speaker vs BIRD 2, same run.
 *
 * One feeder replays pre-encoded UPDATEs at full speed: N distinct IPv4 prefixes (default 1 M, /16–/24
 * mixed, mostly /24), AS paths of 1–8 ASes from a pool of 60 000 shared by many prefixes (Zipf-like, as in
 * real tables), a third with communities, some with MED. The twin gives three namespaces on one bridge:
 * feed (10.9.0.1), pat (10.9.0.2, the Patronus speaker in its own process) and bird (10.9.0.3, BIRD with
 * no kernel protocol, i.e. kernel export off). Runs: (0) the feeder alone into a discard sink, (1) into
 * Patronus, (2) into BIRD. Time to full Loc-RIB is measured from the first UPDATE byte the feeder writes
 * after Established to the moment the receiver holds all N prefixes (Patronus: its own 'bests' events, as the agent listens;
 * BIRD: `birdc show protocols all` polled every 50 ms). Peak RSS: maxRSS of the speaker process, VmHWM of BIRD.
 * The last line is one JSON object with the raw figures.
 *
 * Run: npx tsx bench/bgp-ingest.ts [--prefixes 1000000] [--seed 1]   (needs root, bird, the netns twin)
 *      --profile DIR: also write a V8 CPU profile of the Patronus speaker process into DIR (node --cpu-prof;
 *      open it in Chrome DevTools); the speaker then exits on its own once the Loc-RIB is full. The receiver
 *      always reports its V8 heap in use at that moment (`patronus.heapUsedMB`).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { chunkPrefixes, encodeAttributes, encodeKeepalive, encodeOpen, encodeUpdate, frameLength, nlriBudget, type PathAttributes } from '../dataplane/bgp/codec/index.ts';

const { values } = parseArgs({ options: {
  prefixes: { type: 'string', default: '1000000' }, seed: { type: 'string', default: '1' }, role: { type: 'string' },
  file: { type: 'string' }, target: { type: 'string' }, port: { type: 'string', default: '179' }, raw: { type: 'boolean', default: false },
  total: { type: 'string' }, profile: { type: 'string' },
} });
const N = Number(values.prefixes);
const self = fileURLToPath(import.meta.url);
const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');

function prng(seed: number) {
  let a = seed >>> 0;
  return () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}

/** The feed: concatenated UPDATE messages (then an End-of-RIB marker) carrying N distinct prefixes. */
function buildFeed(n: number, seed: number): { bytes: Buffer; updates: number } {
  const rnd = prng(seed);
  const lens = [16, 17, 18, 19, 20, 21, 22, 22, 23, 23, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24];
  const seen = new Set<string>();
  const pool = Array.from({ length: 60_000 }, () => {
    const len = 1 + Math.floor(rnd() * rnd() * 8);
    const a: PathAttributes = { origin: rnd() < 0.9 ? 0 : 2, asPath: [{ type: 2, asns: [65001, ...Array.from({ length: len - 1 }, () => 1 + Math.floor(rnd() * 64000))] }], nextHop: '10.9.0.1' };
    if (rnd() < 0.33) a.communities = [65001 * 65536 + Math.floor(rnd() * 1000), 65001 * 65536 + 1];
    if (rnd() < 0.2) a.med = Math.floor(rnd() * 1000);
    return { attrs: a, prefixes: [] as string[] };
  });
  while (seen.size < n) {
    const len = lens[Math.floor(rnd() * lens.length)]!;
    const first = 1 + Math.floor(rnd() * 222);
    if (first === 127) continue; // BIRD refuses loopback space as a martian; keep the feed valid for both
    const v = (first * 16777216 + Math.floor(rnd() * 16777216)) & (0xffffffff << (32 - len));
    const p = `${(v >>> 24) & 255}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}/${len}`;
    if (seen.has(p)) continue;
    seen.add(p);
    pool[Math.floor(pool.length * rnd() * rnd())]!.prefixes.push(p); // Zipf-like: low indices get most prefixes
  }
  const msgs: Uint8Array[] = [];
  for (const g of pool) {
    if (!g.prefixes.length) continue;
    for (const c of chunkPrefixes(g.prefixes, nlriBudget(encodeAttributes(g.attrs, { as4: true }).length))) msgs.push(encodeUpdate({ withdrawn: [], nlri: c, attrs: g.attrs }, { as4: true }));
  }
  msgs.push(encodeUpdate({ withdrawn: [], nlri: [], attrs: {} }, { as4: true }));
  return { bytes: Buffer.concat(msgs), updates: msgs.length };
}

/** Feeder: BGP handshake (unless --raw), then the whole feed at full speed; keeps the session up after. */
async function feeder() {
  const feed = readFileSync(values.file!);
  const sock = net.connect({ host: values.target!, port: Number(values.port) });
  sock.setNoDelay(true);
  await new Promise<void>((r, j) => { sock.once('connect', () => r()); sock.once('error', j); });
  if (!values.raw) {
    sock.write(encodeOpen({ type: 'open', version: 4, myAs: 65001, holdTime: 240, routerId: '10.9.0.1', capabilities: { multiprotocol: [{ afi: 1, safi: 1 }], routeRefresh: true, as4: 65001, unknown: [] } }));
    let buf = Buffer.alloc(0), seen = 0;
    await new Promise<void>((resolve) => {
      const onData = (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        for (;;) {
          const n = frameLength(buf);
          if (typeof n !== 'number' || n === 0) break;
          seen++; buf = buf.subarray(n);
          if (seen === 1) sock.write(encodeKeepalive());
          if (seen === 2) { sock.off('data', onData); sock.on('data', () => {}); resolve(); }
        }
      };
      sock.on('data', onData);
    });
    setInterval(() => sock.write(encodeKeepalive()), 30_000);
  }
  const t0 = Date.now();
  const CH = 1 << 20;
  for (let i = 0; i < feed.length; i += CH) if (!sock.write(feed.subarray(i, i + CH))) await new Promise((r) => sock.once('drain', r));
  out({ role: 'feeder', t0, written: Date.now() });
}

/** Discard sink: reports when it has read `total` bytes. */
function sink() {
  const total = Number(values.total);
  const srv = net.createServer((s) => { let got = 0; s.on('data', (d) => { got += d.length; if (got >= total) { out({ role: 'sink', tEnd: Date.now(), bytes: got }); } }); });
  srv.listen(Number(values.port), values.target, () => out({ role: 'sink', listening: true }));
}

/** The Patronus speaker as its own process; reports when the Loc-RIB holds N prefixes, and its peak RSS. */
async function receiver() {
  const { BgpSpeaker, parseSpeakerConfig } = await import('../dataplane/bgp/index.ts');
  const sp = new BgpSpeaker(parseSpeakerConfig({ asn: 65000, routerId: '10.9.0.2', listen: { address: '10.9.0.2', port: 179 }, neighbors: [{ address: '10.9.0.1', asn: 65001, passive: true, holdTime: 240 }] }));
  let done = false;
  const rib = sp.ribOf('default');
  sp.on('bests', () => {
    if (done || rib.size < N) return;
    done = true;
    out({ role: 'receiver', tDone: Date.now(), prefixes: rib.size, maxRssKB: process.resourceUsage().maxRSS, heapUsedKB: Math.round(getHeapStatistics().used_heap_size / 1024) });
    // --cpu-prof writes the profile on a normal exit only (the bench kills receivers with SIGKILL).
    if (process.execArgv.includes('--cpu-prof')) setTimeout(() => process.exit(0), 200);
  });
  await sp.start();
  out({ role: 'receiver', listening: true });
}

class Proc {
  lines: Record<string, unknown>[] = [];
  child: ChildProcess;
  constructor(ns: string, args: string[], nodeArgs: string[] = []) {
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...nodeArgs, '--import', 'tsx', self, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    this.child.stdout!.on('data', (d) => { buf += d; let i; while ((i = buf.indexOf('\n')) >= 0) { this.lines.push(JSON.parse(buf.slice(0, i))); buf = buf.slice(i + 1); } });
  }
  async wait(pred: (l: Record<string, unknown>) => boolean, ms = 600_000) {
    const t0 = Date.now();
    for (;;) {
      const l = this.lines.find(pred);
      if (l) return l;
      if (Date.now() - t0 > ms || this.child.exitCode !== null) throw new Error(`process ended or timed out; lines ${JSON.stringify(this.lines)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  kill() { if (this.child.exitCode === null) this.child.kill('SIGKILL'); }
}

async function main() {
  const { getProvider, parseLab, nsName } = await import('../twin/index.ts');
  const prov = getProvider('netns');
  const lab = `bb${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), 'pt-bgp-bench-'));
  const procs: Proc[] = [];
  let birdPid = 0;
  const cleanup = async () => {
    for (const p of procs) p.kill();
    if (birdPid) try { process.kill(birdPid, 'SIGKILL'); } catch { /* gone */ }
    await prov.destroy(lab).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => { void cleanup().then(() => process.exit(130)); });
  try {
    let t = Date.now();
    const feed = buildFeed(N, Number(values.seed));
    const file = join(dir, 'feed.bin');
    writeFileSync(file, feed.bytes);
    console.log(`feed: ${N} prefixes in ${feed.updates} UPDATEs, ${(feed.bytes.length / 1e6).toFixed(1)} MB, built in ${Date.now() - t} ms`);
    await prov.deploy(parseLab(JSON.stringify({
      name: 'bgp-bench',
      topology: {
        nodes: { feed: { kind: 'host' }, pat: { kind: 'host' }, bird: { kind: 'host' }, lan: { kind: 'wan', wan: { mode: 'bridge', subnet: '10.9.0.0/24' } } },
        links: [
          { endpoints: [{ node: 'feed', interface: 'eth0', ipv4: '10.9.0.1/24' }, { node: 'lan', interface: 'p1' }] },
          { endpoints: [{ node: 'pat', interface: 'eth0', ipv4: '10.9.0.2/24' }, { node: 'lan', interface: 'p2' }] },
          { endpoints: [{ node: 'bird', interface: 'eth0', ipv4: '10.9.0.3/24' }, { node: 'lan', interface: 'p3' }] },
        ],
      },
    }), 'bench.json', { rename: lab }));
    const ns = (n: string) => nsName(lab, n);
    const feedArgs = ['--role', 'feeder', '--file', file];

    // (0) the feeder alone
    const sk = new Proc(ns('pat'), ['--role', 'sink', '--target', '10.9.0.2', '--port', '9179', '--total', String(feed.bytes.length)]);
    procs.push(sk);
    await sk.wait((l) => l.listening === true);
    const f0 = new Proc(ns('feed'), [...feedArgs, '--target', '10.9.0.2', '--port', '9179', '--raw']);
    procs.push(f0);
    const feederAloneMs = (await sk.wait((l) => l.tEnd !== undefined)).tEnd as number - ((await f0.wait((l) => l.t0 !== undefined)).t0 as number);
    sk.kill(); f0.kill();
    console.log(`feeder alone: ${feederAloneMs} ms`);

    // (1) Patronus
    const rc = new Proc(ns('pat'), ['--role', 'receiver', '--prefixes', String(N)], values.profile ? ['--cpu-prof', '--cpu-prof-dir', values.profile] : []);
    procs.push(rc);
    await rc.wait((l) => l.listening === true);
    const f1 = new Proc(ns('feed'), [...feedArgs, '--target', '10.9.0.2']);
    procs.push(f1);
    const done = await rc.wait((l) => l.tDone !== undefined);
    const patMs = (done.tDone as number) - ((await f1.wait((l) => l.t0 !== undefined)).t0 as number);
    const patRssMB = (done.maxRssKB as number) / 1024;
    const patHeapMB = (done.heapUsedKB as number) / 1024;
    if (values.profile) await new Promise((r) => (rc.child.exitCode !== null ? r(0) : rc.child.once('exit', r)));
    rc.kill(); f1.kill();
    console.log(`patronus: ${patMs} ms to full Loc-RIB, peak RSS ${patRssMB.toFixed(0)} MB, V8 heap in use ${patHeapMB.toFixed(0)} MB`);

    // (2) BIRD, kernel export off (no kernel protocol at all)
    const conf = join(dir, 'bird.conf'), ctl = join(dir, 'bird.ctl'), pidf = join(dir, 'bird.pid');
    writeFileSync(conf, ['router id 10.9.0.3;', 'protocol device { }',
      'protocol bgp feeder { local 10.9.0.3 as 65000; neighbor 10.9.0.1 as 65001; passive on; hold time 240; ipv4 { import all; export none; }; }', ''].join('\n'));
    execFileSync('ip', ['netns', 'exec', ns('bird'), 'bird', '-c', conf, '-s', ctl, '-P', pidf]);
    birdPid = Number(readFileSync(pidf, 'utf8').trim());
    const f2 = new Proc(ns('feed'), [...feedArgs, '--target', '10.9.0.3']);
    procs.push(f2);
    let birdDone = 0;
    for (t = Date.now(); Date.now() - t < 300_000;) {
      const s = execFileSync('birdc', ['-s', ctl, 'show', 'protocols', 'all', 'feeder']).toString();
      if (Number(/(\d+) imported/.exec(s)?.[1] ?? 0) >= N) { birdDone = Date.now(); break; }
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!birdDone) throw new Error(`BIRD did not reach ${N} prefixes: ${execFileSync('birdc', ['-s', ctl, 'show', 'protocols', 'all', 'feeder']).toString()}`);
    const birdMs = birdDone - ((await f2.wait((l) => l.t0 !== undefined)).t0 as number);
    const birdRssMB = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${birdPid}/status`, 'utf8'))?.[1]) / 1024;
    console.log(`bird: ${birdMs} ms to full Loc-RIB, peak RSS ${birdRssMB.toFixed(0)} MB`);
    await cleanup();
    console.log(JSON.stringify({
      bench: 'bgp-ingest', prefixes: N, updates: feed.updates, feedBytes: feed.bytes.length, feederAloneMs,
      patronus: { locRibMs: patMs, peakRssMB: Math.round(patRssMB), heapUsedMB: Math.round(patHeapMB) }, bird: { locRibMs: birdMs, peakRssMB: Math.round(birdRssMB) },
      ratio: { time: +(patMs / birdMs).toFixed(2), rss: +(patRssMB / birdRssMB).toFixed(2) }, goal: { time: 1.0, rss: 6 },
    }));
  } catch (e) { await cleanup(); throw e; }
}

if (values.role === 'feeder') await feeder();
else if (values.role === 'sink') sink();
else if (values.role === 'receiver') await receiver();
else await main();

/**
 * bench/xdp-forward.ts — the edge's forwarding job done three ways in one run, each against the others:
 *
 *   sender ns (pt_xf_send) ──veth── edge ns ──veth── sink ns (pt_xf_sink)
 *
 * - `xdp-native` / `xdp-generic`: the real LAN ingress program (bpf/build/lan_ingress.bpf.o, `pt_lan_xdp`)
 *   on the edge's LAN veth, its maps programmed from a bundle through dataplane/xdp/fib.ts exactly as the
 *   agent does: parse, segment, LPM route, classify, steer, encapsulate in the Patronus overlay, redirect
 *   to the WAN veth;
 * - `linux-overlay`: the Linux-native way — nftables marks the LAN traffic, an fwmark rule selects a table
 *   whose route sends it into a VXLAN device on the WAN veth;
 * - `kernel-fwd`: plain IPv4 forwarding, for reference.
 * The sink is a UDP socket (no program on its veth, GRO on so XDP redirects into it are received) that
 * rebuilds every inner packet from its sequence number and compares it byte for byte (TTL one lower).
 *
 * The sender steps through capped rates (interleaving the variants at each step); every step reports sent
 * and delivered (distinct, byte-equal) packets per variant. The first (lowest-rate) step must deliver every
 * packet on every variant: a variant that loses packets there is black-holing, not slow, and the bench
 * exits 1 naming it instead of printing figures. `kernel.bpf_stats_enabled` is on during the run (old
 * value restored) so the LAN program's run_cnt / run_time_ns give its cost per packet.
 *
 * Flags: --quick (one 20 kpps step of 1 s: the smoke test), --seconds S per step (default 2),
 * --rates 50000,100000,...,0 (packets/s, 0 = as fast as the sender can; default 50k,100k,200k,400k,800k,max),
 * --size N UDP payload bytes (default 64), --top-rounds N how often the top (uncapped) step is repeated,
 * interleaved, for its medians (default 3).
 * The last line is one JSON object: {"bench":"xdp-forward","xdp_mpps":..,"linux_overlay_mpps":..,
 * "kernel_fwd_mpps":..,"ratio":..,"ns_per_pkt_lan_prog":..,"steps":[...]} where *_mpps are the delivered
 * rates at the uncapped step (medians of its rounds) and ratio = xdp_mpps / linux_overlay_mpps.
 *
 * Run (root): flock /tmp/pt-heavy.lock npx tsx bench/xdp-forward.ts
 */
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Bundle, BUNDLE_API_VERSION } from '../dataplane/index.ts';
import { fibEntries } from '../dataplane/xdp/fib.ts';
import { BpfObject, ensureBpffs, ifindex, perCpuMap, type XdpMode } from '../dataplane/xdp/index.ts';
import * as M from '../dataplane/xdp/maps.ts';

const root = fileURLToPath(new URL('../', import.meta.url));
const bin = (n: string) => `${root}bench/native/build/${n}`;
const lab = `xf${process.pid}`;
const NS = { s: `pt.${lab}.s`, e: `pt.${lab}.e`, k: `pt.${lab}.k` } as const;
const pinRoot = `/sys/fs/bpf/patronus/${lab}`;
const MAC = { s0: '02:58:46:00:00:01', e0: '02:58:46:00:00:02', e1: '02:58:46:00:01:01', k0: '02:58:46:00:01:02', vxPeer: '02:58:46:00:02:02' };
const ADDR = { src: '10.1.0.2', dst: '10.2.0.2', e1: '192.168.0.1', k0: '192.168.0.2' };
const PORT = { inner: 9000, vxlan: 4789, vni: 42, fwmark: '0x58', table: '158' };
const FLOWS = 16, SPORT = 10000;

type Variant = 'xdp-native' | 'xdp-generic' | 'linux-overlay' | 'kernel-fwd';
const VARIANTS: Variant[] = ['xdp-native', 'xdp-generic', 'linux-overlay', 'kernel-fwd'];

interface Opts { quick: boolean; seconds: number; rates: number[]; size: number; topRounds: number }

function parseArgs(argv: string[]): Opts {
  const o: Opts = { quick: false, seconds: 2, rates: [50_000, 100_000, 200_000, 400_000, 800_000, 0], size: 64, topRounds: 3 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!, v = argv[i + 1];
    const num = (what: string, min: number) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < min) usage(`${a} expects ${what}, got ${JSON.stringify(v)}`);
      i++;
      return n;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--seconds') o.seconds = num('a number of seconds > 0', 0.1);
    else if (a === '--size') o.size = num('a UDP payload size 8..1400', 8);
    else if (a === '--top-rounds') o.topRounds = Math.round(num('a number of rounds >= 1', 1));
    else if (a === '--rates') {
      o.rates = (v ?? '').split(',').map(Number);
      if (!o.rates.length || o.rates.some((r) => !Number.isInteger(r) || r < 0)) usage(`--rates expects packets/s like 50000,100000,0 (0 = uncapped), got ${JSON.stringify(v)}`);
      i++;
    } else usage(`unknown argument ${a}`);
  }
  if (o.size > 1400) usage(`--size expects 8..1400, got ${o.size}`);
  if (o.quick) { o.rates = [20_000]; o.seconds = 1; o.topRounds = 1; }
  return o;
}

function usage(msg: string): never {
  console.error(`xdp-forward: ${msg}\nusage: npx tsx bench/xdp-forward.ts [--quick] [--seconds S] [--rates 50000,...,0] [--size N] [--top-rounds N]`);
  process.exit(2);
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const nsx = (n: string, ...cmd: string[]) => run('ip', ['netns', 'exec', n, ...cmd]);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Children still running: killed by the signal handler so an interrupted run leaves nothing behind. */
const children = new Set<ChildProcess>();
const track = <T extends ChildProcess>(p: T): T => { children.add(p); p.on('close', () => children.delete(p)); return p; };

/** The edge as the agent would see it: one LAN, one WAN path to site 2, a classifier that has to be walked. */
function edgeBundle(): Bundle {
  return Bundle.parse({
    apiVersion: BUNDLE_API_VERSION, node: 'edge', site: 's1', siteId: 1, intent: 'xdp-forward',
    interfaces: {
      wan: [{ name: 'ptxe1', transport: 'inet', ipv4: [`${ADDR.e1}/24`], mtu: 1500, role: 'active', metered: false, bandwidthUp: 0, bandwidthDown: 0 }],
      lan: [{ name: 'ptxe0', segment: 'default', ipv4: ['10.1.0.1/24'] }],
    },
    segments: [{ name: 'default', id: 1, routes: [
      { prefix: '10.1.0.0/24', kind: 'local', interface: 'ptxe0' },
      { prefix: '10.2.0.0/24', kind: 'remote', site: 's2', siteId: 2, via: 's2' },
    ] }],
    paths: [{ id: 1, peerNode: 'sink', peerSite: 's2', peerSiteId: 2, transport: 'inet', remoteTransport: 'inet', localInterface: 'ptxe1',
      localAddress: ADDR.e1, remoteAddress: ADDR.k0, mtu: 1500, role: 'active', probe: false }],
    // Voice first (does not match the test flows), then the bulk class they fall into: two rules walked per packet.
    classifier: [
      { appClass: 'voice', classId: 1, priority: 10, protocol: 'udp', dstPorts: [[16384, 32767]], dscp: [46] },
      { appClass: 'bulk', classId: 2, priority: 20, protocol: 'udp', dstPorts: [[PORT.inner, PORT.inner]] },
    ],
    rules: [
      { name: 'voice', segment: 'default', appClass: 'voice', service: 'overlay', strategy: 'preference', preferred: ['inet'], perPacket: false },
      { name: 'bulk', segment: 'default', appClass: 'bulk', service: 'overlay', strategy: 'preference', preferred: ['inet'], perPacket: false },
      { name: 'default', segment: 'default', appClass: 'default', service: 'overlay', strategy: 'preference', preferred: ['inet'], perPacket: false },
    ],
    slaClasses: [], qosClasses: [], bgp: {}, wanopt: {},
  });
}

/** Namespaces, veths, addresses, static neighbours, forwarding; the sink's veth with GRO on. */
function buildTopology(): void {
  for (const n of Object.values(NS)) {
    run('ip', ['netns', 'add', n]);
    // No IPv6: router and neighbour solicitations (through the VXLAN device too) would be stray packets at the sink.
    nsx(n, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
  }
  run('ip', ['link', 'add', 'ptxs0', 'address', MAC.s0, 'netns', NS.s, 'type', 'veth', 'peer', 'name', 'ptxe0', 'address', MAC.e0, 'netns', NS.e]);
  run('ip', ['link', 'add', 'ptxe1', 'address', MAC.e1, 'netns', NS.e, 'type', 'veth', 'peer', 'name', 'ptxk0', 'address', MAC.k0, 'netns', NS.k]);
  const batch = (n: string, lines: string[]) => execFileSync('ip', ['-n', n, '-batch', '-'], { input: lines.join('\n') + '\n', stdio: ['pipe', 'pipe', 'pipe'] });
  batch(NS.s, ['link set lo up', 'addr add 10.1.0.2/24 dev ptxs0', 'link set ptxs0 up']);
  batch(NS.e, ['link set lo up', 'addr add 10.1.0.1/24 dev ptxe0', `addr add ${ADDR.e1}/24 dev ptxe1`, 'link set ptxe0 up', 'link set ptxe1 up',
    `neigh replace ${ADDR.k0} lladdr ${MAC.k0} dev ptxe1 nud permanent`, `neigh replace ${ADDR.src} lladdr ${MAC.s0} dev ptxe0 nud permanent`,
    `route add 10.2.0.0/24 via ${ADDR.k0} dev ptxe1`,
    // The Linux-native overlay: VXLAN on the WAN veth, a table reached only through the fwmark rule.
    `link add ptxvx type vxlan id ${PORT.vni} local ${ADDR.e1} remote ${ADDR.k0} dstport ${PORT.vxlan} dev ptxe1 nolearning`,
    'link set ptxvx up', `neigh replace ${ADDR.dst} lladdr ${MAC.vxPeer} dev ptxvx nud permanent`,
    `route add 10.2.0.0/24 dev ptxvx table ${PORT.table}`]);
  batch(NS.k, ['link set lo up', `addr add ${ADDR.k0}/24 dev ptxk0`, `addr add ${ADDR.dst}/32 dev lo`, 'link set ptxk0 up',
    `neigh replace ${ADDR.e1} lladdr ${MAC.e1} dev ptxk0 nud permanent`, `route add default via ${ADDR.e1}`]);
  nsx(NS.e, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  // A veth receives XDP_REDIRECTed frames only when its peer runs NAPI; GRO on turns NAPI on without a program.
  nsx(NS.k, 'ethtool', '-K', 'ptxk0', 'gro', 'on');
}

/** What the edge runs for one variant; `undo` returns it to plain forwarding. */
interface Setup { apply(): void; undo(): void }

function setups(lanProg: ReturnType<BpfObject['program']>): Record<Variant, Setup> {
  const xdp = (mode: XdpMode): Setup => ({
    apply: () => lanProg.attachXdp('ptxe0', { mode, netns: NS.e }),
    undo: () => lanProg.detachXdp('ptxe0', { mode, netns: NS.e }),
  });
  return {
    'xdp-native': xdp('native'),
    'xdp-generic': xdp('generic'),
    'linux-overlay': {
      apply: () => {
        execFileSync('ip', ['netns', 'exec', NS.e, 'nft', '-f', '-'], { input:
          `table ip ptxf {\n chain pre {\n  type filter hook prerouting priority mangle; policy accept;\n  iifname "ptxe0" ip daddr 10.2.0.0/24 meta mark set ${PORT.fwmark}\n }\n}\n` });
        nsx(NS.e, 'ip', 'rule', 'add', 'fwmark', PORT.fwmark, 'lookup', PORT.table, 'pref', '100');
      },
      undo: () => {
        spawnSync('ip', ['netns', 'exec', NS.e, 'ip', 'rule', 'del', 'pref', '100']);
        spawnSync('ip', ['netns', 'exec', NS.e, 'nft', 'delete', 'table', 'ip', 'ptxf']);
      },
    },
    'kernel-fwd': { apply: () => {}, undo: () => {} },
  };
}

/** A started sink: resolves its counts after SIGTERM. */
async function startSink(variant: Variant, seq0: number, max: number, size: number) {
  const mode = variant.startsWith('xdp') ? 'ovl' : variant === 'linux-overlay' ? 'vxlan' : 'plain';
  const port = mode === 'ovl' ? M.OVERLAY_PORT_DEFAULT : mode === 'vxlan' ? PORT.vxlan : PORT.inner;
  const p = track(spawn('ip', ['netns', 'exec', NS.k, bin('pt_xf_sink'), `mode=${mode}`, `port=${port}`, `src=${ADDR.src}`, `dst=${ADDR.dst}`,
    `sport=${SPORT}`, `dport=${PORT.inner}`, `flows=${FLOWS}`, `size=${size}`, `seq0=${seq0}`, `max=${max}`, `vni=${PORT.vni}`], { stdio: ['ignore', 'pipe', 'pipe'] }));
  let stderr = '';
  p.stderr.on('data', (d) => { stderr += d; });
  const lines = createInterface({ input: p.stdout });
  const it = lines[Symbol.asyncIterator]();
  const first = await Promise.race([it.next(), sleep(5000).then(() => ({ value: undefined }))]);
  if (first.value !== 'ready') { p.kill('SIGKILL'); throw new Error(`sink did not start: ${stderr}`); }
  return {
    async stop(): Promise<{ received: number; good: number; dup: number; bad: number; why: string }> {
      const closed = new Promise((r) => p.on('close', r));
      p.kill('SIGTERM');
      const line = await Promise.race([it.next(), sleep(5000).then(() => ({ value: undefined }))]);
      await Promise.race([closed, sleep(2000)]);
      if (typeof line.value !== 'string') { p.kill('SIGKILL'); throw new Error(`sink gave no counts: ${stderr}`); }
      return JSON.parse(line.value);
    },
  };
}

/** UDP receive-buffer drops of the sink namespace (/proc/net/snmp), to tell sink overload from path loss. */
function sinkBufferErrors(): number {
  const lines = nsx(NS.k, 'cat', '/proc/net/snmp').split('\n').filter((l) => l.startsWith('Udp:'));
  const [h, v] = [lines[0]!.split(/\s+/), lines[1]!.split(/\s+/)];
  return Number(v[h.indexOf('RcvbufErrors')]);
}

/** run_cnt and run_time_ns of program `id` (bpftool; needs kernel.bpf_stats_enabled for the time). */
function progStats(id: number): { runs: number; ns: number } {
  const j = JSON.parse(run('bpftool', ['-j', 'prog', 'show', 'id', String(id)])) as { run_cnt?: number; run_time_ns?: number };
  return { runs: j.run_cnt ?? 0, ns: j.run_time_ns ?? 0 };
}

interface StepResult {
  variant: Variant; pps_cap: number; sent: number; refused: number; delivered: number; bad: number; dup: number; why?: string;
  sink_buffer_drops: number; seconds: number; delivered_mpps: number; lan_prog_runs?: number; lan_prog_ns_per_run?: number;
  xdp_drops?: Record<string, number>;
}

async function step(variant: Variant, s: Setup, pps: number, o: Opts, seq0: number, lanId: number, drops: () => Record<string, number>): Promise<StepResult> {
  s.apply();
  try {
    // Room for an uncapped sender; the sink rejects anything out of range as bad, so the bound cannot hide loss.
    const max = Math.ceil((pps || 5_000_000) * o.seconds * 1.5) + 1024;
    const sink = await startSink(variant, seq0, max, o.size);
    const buf0 = sinkBufferErrors(), st0 = progStats(lanId), d0 = drops();
    let sent: { sent: number; failed: number; elapsed_ns: number };
    let got: Awaited<ReturnType<typeof sink.stop>>;
    try {
      // Asynchronous, so that a signal is handled while the sender runs.
      const out = await new Promise<string>((res, rej) => track(execFile('ip', ['netns', 'exec', NS.s, bin('pt_xf_send'), 'ifname=ptxs0', `dmac=${MAC.e0}`, `smac=${MAC.s0}`, `src=${ADDR.src}`, `dst=${ADDR.dst}`,
        `sport=${SPORT}`, `dport=${PORT.inner}`, `flows=${FLOWS}`, `size=${o.size}`, `pps=${pps}`, `seconds=${o.seconds}`, `seq0=${seq0}`],
        (err, stdout, stderr) => (err ? rej(new Error(`sender: ${err.message} ${stderr}`)) : res(stdout)))));
      sent = JSON.parse(out.trim()) as { sent: number; failed: number; elapsed_ns: number };
      await sleep(300); // queued packets drain into the sink
    } finally {
      got = await sink.stop();
    }
    const st1 = progStats(lanId), d1 = drops();
    const runs = st1.runs - st0.runs;
    const xdpDrops = Object.fromEntries(Object.entries(d1).map(([k, v]) => [k, v - (d0[k] ?? 0)]).filter(([, v]) => (v as number) > 0));
    const seconds = sent.elapsed_ns / 1e9;
    return {
      variant, pps_cap: pps, sent: sent.sent, refused: sent.failed, delivered: got.good, bad: got.bad, dup: got.dup, ...(got.bad ? { why: got.why } : {}),
      sink_buffer_drops: sinkBufferErrors() - buf0, seconds: Number(seconds.toFixed(3)), delivered_mpps: Number((got.good / seconds / 1e6).toFixed(4)),
      ...(variant.startsWith('xdp') ? { lan_prog_runs: runs, lan_prog_ns_per_run: runs ? Number(((st1.ns - st0.ns) / runs).toFixed(1)) : 0, xdp_drops: xdpDrops } : {}),
    };
  } finally {
    s.undo();
  }
}

function teardown(objs: BpfObject[]): void {
  for (const o of objs.splice(0)) o.close();
  for (const n of Object.values(NS)) spawnSync('ip', ['netns', 'del', n]);
  rmSync(pinRoot, { recursive: true, force: true });
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) { console.error('xdp-forward: needs root (namespaces, XDP)'); return 1; }
  if (!existsSync(bin('pt_xf_send')) || !existsSync(bin('pt_xf_sink'))) run('make', ['-s', '-C', `${root}bench/native`]);
  const objPath = `${root}bpf/build/${M.PROGRAMS.lanXdp.object}`;
  if (!existsSync(objPath)) { console.error(`xdp-forward: ${objPath} missing: run node scripts/build.mjs`); return 1; }

  const statsFile = '/proc/sys/kernel/bpf_stats_enabled';
  const statsOld = readFileSync(statsFile, 'utf8').trim();
  const objs: BpfObject[] = [];
  const onSignal = () => { for (const c of children) c.kill('SIGKILL'); teardown(objs); writeFileSync(statsFile, statsOld); process.exit(130); };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    buildTopology();
    ensureBpffs();
    const lan = BpfObject.open(objPath, { pinRoot });
    objs.push(lan);
    lan.load();
    // The agent's own mapping from bundle to map entries (dataplane/xdp/fib.ts), with this host's facts.
    const macs: Record<string, string> = { ptxe0: MAC.e0, ptxe1: MAC.e1 };
    const e = fibEntries(edgeBundle(), {
      ifindex: (n) => ifindex(n, NS.e), mac: (n) => macs[n]!, neighbour: (a) => (a === ADDR.k0 ? MAC.k0 : undefined),
    });
    if (e.unresolved.length || e.notes.length) throw new Error(`the bench bundle does not program cleanly: ${JSON.stringify(e)}`);
    for (const [name, entries] of Object.entries(e.maps)) for (const { key, value } of entries) lan.map(name).update(key, value);
    const prog = lan.program(M.PROGRAMS.lanXdp.program);
    const lanId = prog.id;
    const dropMap = perCpuMap(lan.map('pt_drops'), M.MAPS.pt_drops.key, M.counter);
    const reason = Object.fromEntries(Object.entries(M.DropReason).map(([n, v]) => [v, n]));
    const drops = () => Object.fromEntries([...dropMap.entries()].map(([k, v]) => [reason[k as number] ?? String(k), Number(M.sumCounters(v).packets)]));
    const sets = setups(prog);

    writeFileSync(statsFile, '1');
    const steps: StepResult[] = [];
    let seq0 = 1;
    const top = o.rates.includes(0) ? 0 : Math.max(...o.rates);
    // The top step decides the ratio: it is repeated (interleaved) and its medians are reported.
    const plan = o.rates.flatMap((r) => (r === top ? Array<number>(o.topRounds).fill(r) : [r]));
    for (const pps of plan) {
      for (const v of VARIANTS) {
        const r = await step(v, sets[v], pps, o, seq0, lanId, drops);
        seq0 += r.sent + 1;
        steps.push(r);
        console.error(`${v.padEnd(13)} cap ${pps ? `${pps / 1000}k` : 'max'} pps: sent ${r.sent} (refused ${r.refused}), delivered ${r.delivered} ` +
          `(${(100 * r.delivered / Math.max(r.sent, 1)).toFixed(2)}%, ${r.delivered_mpps} Mpps), bad ${r.bad}${r.why ? ` (${r.why})` : ''}, ` +
          `sink buffer drops ${r.sink_buffer_drops}${r.lan_prog_runs !== undefined ? `, LAN prog ${r.lan_prog_runs} runs ${r.lan_prog_ns_per_run} ns/run` : ''}` +
          `${r.xdp_drops && Object.keys(r.xdp_drops).length ? ` drops ${JSON.stringify(r.xdp_drops)}` : ''}; load ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
      }
    }

    // The lowest-rate step is the correctness gate: every packet, byte-equal, on every variant.
    const low = Math.min(...o.rates.map((r) => r || Infinity));
    const failed = steps.filter((r) => r.pps_cap === (low === Infinity ? 0 : low) && (r.sent === 0 || r.delivered !== r.sent || r.bad > 0));
    if (failed.length) {
      for (const r of failed) {
        console.error(`xdp-forward: ${r.variant} ${r.delivered === 0 ? 'black-holes' : 'loses or corrupts packets'} at the low-rate step: ` +
          `sent ${r.sent}, delivered ${r.delivered}, bad ${r.bad}${r.why ? ` (${r.why})` : ''}${r.xdp_drops ? `, program drops ${JSON.stringify(r.xdp_drops)}` : ''}`);
      }
      return 1;
    }
    const median = (xs: number[]) => { const v = [...xs].sort((a, b) => a - b); return v.length % 2 ? v[v.length >> 1]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2; };
    const at = (v: Variant, f: (r: StepResult) => number) => Number(median(steps.filter((r) => r.variant === v && r.pps_cap === top).map(f)).toFixed(4));
    const mpps = (v: Variant) => at(v, (r) => r.delivered_mpps), progNs = (v: Variant) => at(v, (r) => r.lan_prog_ns_per_run ?? 0);
    const best: Variant = mpps('xdp-native') >= mpps('xdp-generic') ? 'xdp-native' : 'xdp-generic';
    const lin = mpps('linux-overlay');
    console.log(JSON.stringify({
      bench: 'xdp-forward', size: o.size, seconds_per_step: o.seconds, top_rounds: o.topRounds,
      xdp_mode: best.slice(4), xdp_mpps: mpps(best), xdp_native_mpps: mpps('xdp-native'), xdp_generic_mpps: mpps('xdp-generic'),
      linux_overlay_mpps: lin, kernel_fwd_mpps: mpps('kernel-fwd'),
      ratio: lin ? Number((mpps(best) / lin).toFixed(2)) : null,
      ns_per_pkt_lan_prog: progNs(best), ns_per_pkt_lan_prog_native: progNs('xdp-native'), ns_per_pkt_lan_prog_generic: progNs('xdp-generic'),
      load: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
      steps: steps.map((r) => ({ v: r.variant, cap: r.pps_cap, sent: r.sent, refused: r.refused, delivered: r.delivered, bad: r.bad,
        sink_drops: r.sink_buffer_drops, s: r.seconds, mpps: r.delivered_mpps, ...(r.lan_prog_runs !== undefined ? { prog_runs: r.lan_prog_runs, prog_ns: r.lan_prog_ns_per_run } : {}) })),
    }));
    return 0;
  } finally {
    writeFileSync(statsFile, statsOld);
    teardown(objs);
  }
}

main().then((code) => process.exit(code), (err) => { console.error(`xdp-forward: ${err instanceof Error ? err.stack ?? err.message : err}`); process.exit(1); });

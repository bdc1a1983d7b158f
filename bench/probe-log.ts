/**
 * bench/probe-log.ts — what the agent's raw-probe log (dataplane/agent/probe-log.ts) costs the agent: a
 * real prober probing --paths paths every --interval ms over loopback (UDP to a responder in the same
 * process on 127.0.0.1), in alternating phases without the log (baseline) and with it — every outcome
 * recorded, and every 500 ms the page since the last read built and serialised to JSON as `GET /probes`
 * does (the HTTP framing over the unix socket is left out: the status endpoint pays it too). Per phase:
 * process CPU time (user + system, ms per wall second; the responder's work is in both sides) and the
 * event-loop delay p99 / max (perf_hooks, 1 ms resolution). Off and on phases alternate so load drifts
 * hit both alike, after one discarded warm-up phase of each; medians are compared. Also the bare costs: ns per record() and µs per served row.
 *
 * The last line is one JSON object with the raw figures; exits non-zero instead when the probes were not
 * answered or the log recorded nothing (nothing was measured).
 *
 * Run: npx tsx bench/probe-log.ts [--paths 8] [--interval 10] [--phase 5] [--rounds 4]   (under flock /tmp/pt-heavy.lock)
 */
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Prober, Responder } from '../dataplane/probe/index.ts';
import { ProbeLog } from '../dataplane/agent/probe-log.ts';
import type { BundlePath } from '../dataplane/index.ts';

const { values } = parseArgs({ options: { paths: { type: 'string', default: '8' }, interval: { type: 'string', default: '10' }, phase: { type: 'string', default: '5' }, rounds: { type: 'string', default: '4' } } });
const PATHS = Number(values.paths), INTERVAL = Number(values.interval), PHASE_MS = Number(values.phase) * 1000, ROUNDS = Number(values.rounds);
if (![PATHS, INTERVAL, PHASE_MS, ROUNDS].every((x) => Number.isInteger(x) && x > 0)) { process.stderr.write('--paths, --interval, --phase and --rounds take positive integers\n'); process.exit(2); }

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const median = (a: number[]) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2; };
const r3 = (x: number) => Math.round(x * 1000) / 1000;

const responder = new Responder({ address: '127.0.0.1', port: 0 });
await responder.start();
const paths = Array.from({ length: PATHS }, (_, i) => ({
  id: i + 1, peerNode: `peer${i % 3}`, peerSite: 'b', peerSiteId: 2, transport: `t${i}`, role: 'active', probe: true,
  localInterface: 'lo', localAddress: '127.0.0.1', remoteAddress: '127.0.0.1', mtu: 1500,
}) as unknown as BundlePath);

interface Phase { cpuMsPerS: number; loopP99Ms: number; loopMaxMs: number; sent: number; replies: number; rows: number }

async function phase(withLog: boolean): Promise<Phase> {
  const log = withLog ? new ProbeLog() : undefined;
  log?.setPeers(paths);
  const prober = new Prober({
    paths, port: responder.port, monitor: { intervalMs: INTERVAL, idleIntervalMs: INTERVAL }, budgets: Object.fromEntries(paths.map((p) => [p.transport, 1e9])),
    ...(log && { recorder: log }),
  });
  await prober.start();
  await sleep(200); // past start-up (first replies, timeouts settling)
  let cursor = log?.recorded ?? 0, served = 0;
  const reader = log && setInterval(() => { const p = log.read(cursor); cursor = p.next; served += JSON.stringify(p).length; }, 500);
  const h = monitorEventLoopDelay({ resolution: 1 });
  const sent0 = prober.counters.sent, replies0 = prober.counters.replies, rows0 = log?.recorded ?? 0;
  const cpu0 = process.cpuUsage(), t0 = performance.now();
  h.enable();
  await sleep(PHASE_MS);
  h.disable();
  const cpu = process.cpuUsage(cpu0), wall = performance.now() - t0;
  if (reader) clearInterval(reader);
  await prober.stop();
  void served;
  return {
    cpuMsPerS: (cpu.user + cpu.system) / 1000 / (wall / 1000), loopP99Ms: h.percentile(99) / 1e6, loopMaxMs: h.max / 1e6,
    sent: prober.counters.sent - sent0, replies: prober.counters.replies - replies0, rows: (log?.recorded ?? 0) - rows0,
  };
}

/** ns per record() into a full (wrapping) ring, and µs per row to build and serialise a 500 ms page. */
function micro(): { recordNs: number; serveUsPerRow: number } {
  const log = new ProbeLog();
  log.setPeers(paths);
  const n = 2_000_000;
  let t = performance.now();
  for (let i = 0; i < n; i++) log.record((i & 7) + 1, i, 1.7e12 + i, 10 + (i & 255) * 0.01, 5, 5, i % 97 === 0 ? 1 : 0);
  const recordNs = ((performance.now() - t) * 1e6) / n;
  const page = Math.max(1, Math.round((PATHS * 500) / INTERVAL));
  const reps = 50;
  t = performance.now();
  for (let k = 0; k < reps; k++) JSON.stringify(log.read(log.recorded - page));
  return { recordNs, serveUsPerRow: ((performance.now() - t) * 1000) / (reps * page) };
}

const load1Before = loadavg()[0];
try {
  const off: Phase[] = [], on: Phase[] = [];
  // A discarded phase of each kind first: JIT warm-up would otherwise land on whichever side runs first.
  await phase(true);
  await phase(false);
  for (let i = 0; i < ROUNDS; i++) {
    // Alternate which side goes first so a drifting load favours neither.
    if (i % 2) { on.push(await phase(true)); off.push(await phase(false)); } else { off.push(await phase(false)); on.push(await phase(true)); }
  }
  const m = micro();
  const all = [...off, ...on];
  if (all.some((p) => p.replies < p.sent * 0.5) || on.some((p) => p.rows === 0)) {
    process.stderr.write(`not measured: probes sent/answered per phase ${all.map((p) => `${p.sent}/${p.replies}`).join(' ')}, rows logged ${on.map((p) => p.rows).join(' ')}\n`);
    process.exit(1);
  }
  const cpuOff = median(off.map((p) => p.cpuMsPerS)), cpuOn = median(on.map((p) => p.cpuMsPerS));
  console.log(JSON.stringify({
    bench: 'probe-log', paths: PATHS, interval_ms: INTERVAL, phase_s: PHASE_MS / 1000, rounds: ROUNDS,
    probes_per_s: Math.round(median(on.map((p) => p.sent)) / (PHASE_MS / 1000)), rows_per_s: Math.round(median(on.map((p) => p.rows)) / (PHASE_MS / 1000)),
    cpu_ms_per_s_off: off.map((p) => r3(p.cpuMsPerS)), cpu_ms_per_s_on: on.map((p) => r3(p.cpuMsPerS)), cpu_median_off: r3(cpuOff), cpu_median_on: r3(cpuOn), cpu_ratio: r3(cpuOn / cpuOff),
    loop_p99_ms_off: off.map((p) => r3(p.loopP99Ms)), loop_p99_ms_on: on.map((p) => r3(p.loopP99Ms)), loop_max_ms_off: r3(Math.max(...off.map((p) => p.loopMaxMs))), loop_max_ms_on: r3(Math.max(...on.map((p) => p.loopMaxMs))),
    record_ns: r3(m.recordNs), serve_us_per_row: r3(m.serveUsPerRow), load1_before: load1Before, load1_after: loadavg()[0],
  }));
} finally {
  await responder.stop();
}

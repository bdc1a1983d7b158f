/**
 * bench/controller-load.ts — the controller under a fleet (issue 9): N simulated edges (default 1,000), each
 * with its own client certificate and its own keep-alive TLS connections, hold bundle long-polls, report
 * health with telemetry once a second and fetch their full bundle every --fetch-s (30) s; then one version is set desired
 * on all of them and fanned out. The same clients, certificates and request mix run first against a minimal
 * Node HTTPS echo server (bench/lib/echo-edge-api.ts) in the same run, so the controller's own cost is a ratio.
 *
 * How it is set up (say it, since it shapes the figures):
 * - Certificates: issued by the controller's CA through controller/pki directly (`issueEdgeCertificate`
 *   from a P-256 CSR per edge, recorded in the store) — not by 1,000 enrolments, for setup speed. The
 *   controller then checks them exactly as enrolled ones (CA chain, store lookup per connection and request).
 * - Versions: two intent versions compiled, signed and stored by `addVersion` for a generated hub-spoke
 *   intent (hub + N-1 spokes, the shape of test/controller/versions-blast.test.ts); every edge's bundle
 *   changes between them. Before the run every edge desires version 1; in the sync phase each edge fetches,
 *   verifies and acks it.
 * - Fan-out: `setDesired(store, allEdges, 2)` — the write the promotion workflow makes — run in this
 *   (separate) process on the controller's store file, as `patronus controller set-desired` or a
 *   `patronus promote` runner would. The serving controller notices it by its periodic scan (every 2 s) and
 *   answers the waiting polls; `fanout_s` counts from the commit to the last ack answered, `fanout_wake_s`
 *   from the commit to the first poll answered (the scan's share).
 * - The controller is `node dist/patronus.js controller serve` (run `node scripts/build.mjs` first) with a
 *   temporary `--state`, its own process; its CPU (user+sys) and RSS are read from /proc. The clients run in
 *   `--workers` forked processes; their CPU and event-loop delay are reported so a loaded client side shows.
 *
 * Phases per side: sync (each edge: a health POST opening its connection, a bundle fetch, verify, ack —
 * spread over --ramp-s), warm-up (the loops started edge by edge over --ramp-s, until every edge had a health
 * report answered — `warm_s`, its second connection is open — then 3 s), steady (--seconds,
 * the figures p50/p99 come from), and the fan-out. Latency = request start to last byte at the client, ms.
 * - The echo server's fan-out is the baseline of the controller's: on a message it swaps in every edge's
 *   version-2 envelope and answers the held polls at once; the same clients verify and ack the same bytes, so
 *   `echo_fanout_s` is what the simulated clients and the wire alone take on this machine.
 * - Both servers listen with the same backlog (4096, capped by net.core.somaxconn).
 * - PT_SIM_TRACE=PREFIX writes each worker's slow requests (bench/lib/edge-sim.ts) for a tail's post-mortem.
 * Goal (issue 9): p99 ≤ 50 ms and ≤ 2× the echo baseline; fan-out ≤ 10 s.
 * The last line is one JSON object with the raw figures; exits 1 without it when it cannot measure (an edge
 * that did not sync or ack, failed requests, a server that did not start).
 *
 * Run: flock /tmp/pt-heavy.lock node --import tsx bench/controller-load.ts [--edges 1000] [--seconds 30]
 *      [--workers 2] [--ramp-s 5] [--fetch-s 30] [--cpu-prof DIR] [--echo-only (diagnosis: the baseline alone, exit 1)]   (DIR: the controller writes a V8 CPU profile there on exit)
 */
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { webcrypto } from 'node:crypto';
import { readFileSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Inventory } from '../dataplane/inventory.ts';
import { openStore, stateFiles } from '../controller/store/index.ts';
import { CertificateAuthority, EC_ALG, issueEdgeCertificate, x509 } from '../controller/pki/index.ts';
import { addVersion, loadOrCreateSigningKey } from '../controller/versions/index.ts';
import { setDesired } from '../controller/edgeapi/index.ts';
import type { InitMessage, ResultMessage, SimEdge } from './lib/edge-sim.ts';
import type { EchoEnvelope } from './lib/echo-edge-api.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values: flags } = parseArgs({
  options: {
    edges: { type: 'string', default: '1000' }, seconds: { type: 'string', default: '30' },
    workers: { type: 'string', default: '2' }, 'echo-only': { type: 'boolean', default: false }, 'ramp-s': { type: 'string' }, 'fetch-s': { type: 'string', default: '30' }, 'cpu-prof': { type: 'string' },
  },
});
const N = Number(flags.edges), SECONDS = Number(flags.seconds), WORKERS = Number(flags.workers);
const RAMP_S = flags['ramp-s'] !== undefined ? Number(flags['ramp-s']) : Math.max(1, N / 200);
if (!(Number.isInteger(N) && N >= 2 && SECONDS > 0 && Number.isInteger(WORKERS) && WORKERS >= 1 && RAMP_S >= 0)) {
  process.stderr.write('controller-load: --edges takes an integer ≥ 2, --seconds a positive number, --workers an integer ≥ 1, --ramp-s a number ≥ 0\n');
  process.exit(2);
}
const FETCH_S = Number(flags['fetch-s']);
if (!(FETCH_S >= 0)) { process.stderr.write('controller-load: --fetch-s takes a number ≥ 0\n'); process.exit(2); }
const WARMUP_S = 3;
const FANOUT_TIMEOUT_S = 60;
const POLL_WAIT_S = 25;
const log = (s: string) => process.stderr.write(`controller-load: ${s}\n`);
const load = () => loadavg().map((x) => Math.round(x * 100) / 100);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- the fleet's intent and inventory
const oct = (i: number) => `${i >> 8}.${i & 255}`;
const edgeName = (i: number) => (i === 0 ? 'hub' : `e${i}`);
const siteName = (i: number) => (i === 0 ? 'hub' : `s${i}`);

function intent(voiceLatency: string): string {
  const L = [
    'apiVersion: patronus.dev/v1', `name: load-${N}`,
    'transports:', '  mpls: { type: private, restrict: true }', '  inet: { type: public }',
    'templates:', '  spoke:', '    variables: [a, b]', '    lanPrefixes: ["10.${a}.${b}.0/24"]',
    'sites:', '  hub: { role: hub, lanPrefixes: [10.0.0.0/24] }',
  ];
  for (let i = 1; i < N; i++) L.push(`  ${siteName(i)}: { template: spoke, vars: { a: "${i >> 8}", b: "${i & 255}" } }`);
  L.push(
    'topology: { policy: hub-spoke }',
    'slaClasses:', `  voice: { latency: ${voiceLatency}, jitter: 30ms, loss: 1% }`,
    'appClasses:', '  voip: { match: [{ protocol: udp, ports: "16384-32767" }] }',
    'rules:',
    '  - { name: voice, app: voip, sla: voice, paths: { preferred: [mpls, inet] } }',
    '  - { name: corporate, app: default, paths: { preferred: [mpls, inet] } }',
  );
  return L.join('\n') + '\n';
}

function inventory(): Inventory {
  const edges: Inventory['edges'] = [];
  for (let i = 0; i < N; i++) {
    edges.push({
      node: edgeName(i), site: siteName(i),
      interfaces: [
        { name: 'wan0', role: 'wan', transport: 'mpls', ipv4: [`172.16.${oct(i + 1)}/16`], ipv6: [], mtu: 1500 },
        { name: 'wan1', role: 'wan', transport: 'inet', ipv4: [`100.64.${oct(i + 1)}/16`], ipv6: [], mtu: 1500 },
        { name: 'lan0', role: 'lan', ipv4: [i === 0 ? '10.0.0.1/24' : `10.${oct(i)}.1/24`], ipv6: [], mtu: 1500 },
      ],
    });
  }
  return { source: `generated:load-${N}`, edges };
}

// ---------------------------------------------------------------- measurement helpers
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** user+sys CPU seconds of a process, from /proc/PID/stat (fields 14 and 15). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}
/** VmRSS and VmHWM (peak) of a process, MB. */
function rssMb(pid: number): { rss: number; peak: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? NaN);
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}
function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
const r2 = (x: number) => Math.round(x * 100) / 100;
function stats(xs: number[]): { n: number; p50: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, p50: r2(pct(s, 50)), p99: r2(pct(s, 99)), max: r2(s[s.length - 1] ?? NaN) };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const children = new Set<ChildProcess>();
function killAll(): void { for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL'); }
/** SIGTERM first (the controller then writes its --cpu-prof profile and closes its store), SIGKILL after 5 s. */
async function stopAll(): Promise<void> {
  const alive = [...children].filter((c) => c.exitCode === null && c.signalCode === null);
  for (const c of alive) c.kill('SIGTERM');
  await Promise.race([Promise.all(alive.map((c) => new Promise((r) => c.once('exit', r)))), new Promise((r) => setTimeout(r, 5000))]);
  killAll();
}

function once<T>(c: ChildProcess, type: string, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { c.off('message', on); reject(new Error(`no "${type}" from pid ${c.pid} within ${timeoutMs} ms`)); }, timeoutMs);
    const on = (m: { type: string }) => { if (m.type === type) { clearTimeout(timer); c.off('message', on); resolve(m as T); } };
    c.on('message', on);
    // 'close', not 'exit': a worker sends its (large) result and exits at once, and 'exit' can come before the
    // IPC channel has delivered the message; 'close' comes after the channel and stdio are drained.
    c.once('close', (code) => { clearTimeout(timer); reject(new Error(`pid ${c.pid} exited (${code}) while waiting for "${type}"`)); });
  });
}

// ---------------------------------------------------------------- one side (echo or controller)
interface Fleet { edges: SimEdge[]; caPem: string; signingKeys: string[] }
interface SideResult {
  steady: { health: ReturnType<typeof stats>; fetch: ReturnType<typeof stats>; all: ReturnType<typeof stats> };
  sync: { connect: ReturnType<typeof stats>; fetch: ReturnType<typeof stats>; ack: ReturnType<typeof stats> };
  serverCpuPct: number; serverRss: { rss: number; peak: number };
  clientCpuPct: number; clientLagP99: number; clientLagMax: number;
  fanout?: { s: number; wakeS: number; health: ReturnType<typeof stats>; serverCpuPct: number; acked: number };
  errors: Record<string, number>; errorSamples: string[]; resets: number; verify: ReturnType<typeof stats>;
  /** From `start` until every edge had a health report answered (its second connection open), s. */
  warmS: number;
}

async function runSide(name: string, url: string, serverPid: number, fleet: Fleet, fanout?: () => Promise<number>): Promise<SideResult> {
  const workers: ChildProcess[] = [];
  for (let w = 0; w < WORKERS; w++) {
    const c = fork(join(root, 'bench/lib/edge-sim.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(c);
    workers.push(c);
  }
  const share = (w: number) => fleet.edges.filter((_, i) => i % WORKERS === w);
  await Promise.all(workers.map((c, w) => {
    const ready = once(c, 'ready', 60_000);
    const init: InitMessage = {
      type: 'init', url, caPem: fleet.caPem, signingKeys: fleet.signingKeys, edges: share(w),
      pollWaitS: POLL_WAIT_S, healthIntervalMs: 1000, fetchIntervalMs: FETCH_S * 1000, telemetryRecords: 4,
    };
    c.send(init);
    return ready;
  }));
  const phase = (p: string) => { for (const c of workers) c.send({ type: 'phase', name: p }); };
  const acks: { edge: string; version: number | null; recvAt: number; ackAt: number }[] = [];
  for (const c of workers) c.on('message', (m: { type: string }) => { if (m.type === 'acked') acks.push(m as unknown as (typeof acks)[number]); });

  log(`${name}: sync of ${N} edges over ${RAMP_S} s`);
  phase('sync');
  const synced = await Promise.all(workers.map((c) => { const p = once<{ ok: number }>(c, 'synced', (RAMP_S + 120) * 1000); c.send({ type: 'sync', rampMs: RAMP_S * 1000 }); return p; }));
  const okSynced = synced.reduce((a, s) => a + s.ok, 0);
  const cpuOf = () => ({ server: cpuSeconds(serverPid), clients: workers.reduce((a, c) => a + cpuSeconds(c.pid!), 0), at: performance.now() });

  let result: SideResult | undefined;
  let failure: string | null = okSynced === N ? null : `${name}: only ${okSynced} of ${N} edges fetched, verified and acked their bundle in the sync phase`;
  let fan: SideResult['fanout'];
  let steadyCpu = { server: 0, clients: 0 }, rss = { rss: NaN, peak: NaN };
  let warmS = NaN;
  if (!failure) {
    phase('warmup');
    const tStart = performance.now();
    const warm = Promise.all(workers.map((c) => once(c, 'warm', (RAMP_S + 60) * 1000)));
    for (const c of workers) c.send({ type: 'start', rampMs: RAMP_S * 1000 });
    await warm;
    warmS = r2((performance.now() - tStart) / 1000);
    await sleep(WARMUP_S * 1000);
    log(`${name}: steady ${SECONDS} s (load ${load().join(' ')})`);
    phase('steady');
    const a = cpuOf();
    await sleep(SECONDS * 1000);
    const b = cpuOf();
    rss = rssMb(serverPid);
    const wall = (b.at - a.at) / 1000;
    steadyCpu = { server: (100 * (b.server - a.server)) / wall, clients: (100 * (b.clients - a.clients)) / wall };
    if (fanout) {
      phase('fanout');
      const before = acks.length;
      const t0 = await fanout();
      const deadline = Date.now() + FANOUT_TIMEOUT_S * 1000;
      while (acks.length - before < N && Date.now() < deadline) await sleep(20);
      const mine = acks.slice(before);
      await sleep(1000); // health reports keep flowing; the fan-out window's health latency includes the tail
      const c = cpuOf();
      const got = new Set(mine.filter((x) => x.version === 2).map((x) => x.edge)).size;
      fan = {
        s: r2((Math.max(...mine.map((x) => x.ackAt)) - t0) / 1000), wakeS: r2((Math.min(...mine.map((x) => x.recvAt)) - t0) / 1000),
        health: stats([]), serverCpuPct: r2((100 * (c.server - b.server)) / ((c.at - b.at) / 1000)), acked: got,
      };
      if (got < N) failure = `${name}: only ${got} of ${N} edges acked version 2 within ${FANOUT_TIMEOUT_S} s`;
    }
  }
  const results = await Promise.all(workers.map((c) => { const p = once<ResultMessage>(c, 'result', 30_000); c.send({ type: 'stop' }); return p; }));
  const merged = (ph: string, k: 'connect' | 'health' | 'fetch' | 'ack' | 'poll') => results.flatMap((r) => r.samples[ph]?.[k] ?? []);
  const errors: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  const errorSamples = results.flatMap((r) => r.errorSamples).slice(0, 10);
  if (fan) fan.health = stats(merged('fanout', 'health'));
  result = {
    steady: { health: stats(merged('steady', 'health')), fetch: stats(merged('steady', 'fetch')), all: stats([...merged('steady', 'health'), ...merged('steady', 'fetch')]) },
    sync: { connect: stats(merged('sync', 'connect')), fetch: stats(merged('sync', 'fetch')), ack: stats(merged('sync', 'ack')) },
    serverCpuPct: r2(steadyCpu.server), serverRss: rss, clientCpuPct: r2(steadyCpu.clients),
    clientLagP99: r2(Math.max(...results.map((r) => r.lag.p99))), clientLagMax: r2(Math.max(...results.map((r) => r.lag.max))),
    ...(fan && { fanout: fan }), errors, errorSamples,
    resets: results.reduce((a, r) => a + r.resets, 0), verify: stats(results.flatMap((r) => r.verifyMs)), warmS,
  };
  log(`${name}: steady health p50/p99 ${result.steady.health.p50}/${result.steady.health.p99} ms (${result.steady.health.n}), fetch ${result.steady.fetch.p50}/${result.steady.fetch.p99} ms (${result.steady.fetch.n}); server CPU ${result.serverCpuPct}% RSS ${rss.rss} MB; clients CPU ${result.clientCpuPct}% lag p99 ${result.clientLagP99} ms, verify p50 ${result.verify.p50} ms, ${result.resets} keep-alive resends${fan ? `; fan-out ${fan.s} s (wake ${fan.wakeS} s)` : ''}`);
  for (const c of workers) children.delete(c);
  if (failure) throw new Error(failure);
  const steadyErrors = Object.entries(errors).filter(([k]) => k.startsWith('steady/') || k.startsWith('fanout/')).reduce((a, [, v]) => a + v, 0);
  if (steadyErrors > 0) throw new Error(`${name}: ${steadyErrors} failed requests (${JSON.stringify(errors)}); first: ${errorSamples.join(' | ')}`);
  return result;
}

// ---------------------------------------------------------------- main
async function main(): Promise<number> {
  const cli = join(root, 'dist', 'patronus.js');
  if (!existsSync(cli)) { log(`${cli} missing: run node scripts/build.mjs`); return 1; }
  const loadBefore = load();
  const state = mkdtempSync(join(tmpdir(), `pt.ctlload.${process.pid}.`));
  try {
    // ---- setup: CA, signing key, two versions, one certificate per edge
    const t0 = performance.now();
    const files = stateFiles(state);
    const store = await openStore(files.store);
    const ca = await CertificateAuthority.open(files.root);
    const signing = loadOrCreateSigningKey(files.root);
    const inv = inventory();
    const names = inv.edges.map((e) => e.node);
    const opts = { author: 'bench', inventory: inv, signingKey: signing.privateKey };
    const v1 = await addVersion(store, { yaml: intent('150ms'), file: 'load.yaml' }, { ...opts, message: 'v1' });
    const v2 = await addVersion(store, { yaml: intent('120ms'), file: 'load.yaml' }, { ...opts, message: 'v2' });
    if (v1.version.id !== 1 || v2.version.id !== 2 || v2.blast?.changed.length !== N) throw new Error(`setup: version 2 should change all ${N} bundles (${v2.blast?.summary})`);
    const tCompile = performance.now();
    const edges: SimEdge[] = [];
    for (let i = 0; i < N; i += 50) {
      edges.push(...await Promise.all(names.slice(i, i + 50).map(async (name) => {
        const keys = await webcrypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
        const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${name}`, keys, signingAlgorithm: EC_ALG });
        const keyPem = x509.PemConverter.encode(Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), 'PRIVATE KEY');
        return { name, keyPem, certPem: csr.toString('pem') };
      })));
    }
    await store.tx(async (tx) => {
      for (const [i, e] of edges.entries()) {
        await tx.upsertEdge(e.name, { site: siteName(i), enrolledAt: Date.now() });
        e.certPem = (await issueEdgeCertificate(tx, ca, e.certPem, e.name)).pem;
      }
    });
    await setDesired(store, names, 1);
    const envelopes: Record<string, EchoEnvelope> = {};
    for (const b of await store.listBundles(1)) envelopes[b.edge] = { hash: b.hash, version: 1, text: JSON.stringify(b.envelope) + '\n' };
    const envFile = join(state, 'echo-envelopes.json');
    writeFileSync(envFile, JSON.stringify(envelopes));
    const envelopes2: Record<string, EchoEnvelope> = {};
    for (const b of await store.listBundles(2)) envelopes2[b.edge] = { hash: b.hash, version: 2, text: JSON.stringify(b.envelope) + '\n' };
    const envFile2 = join(state, 'echo-envelopes-2.json');
    writeFileSync(envFile2, JSON.stringify(envelopes2));
    const sizes = Object.values(envelopes).map((e) => e.text.length).sort((a, b) => a - b);
    log(`setup: ${N} edges, versions 1 and 2 in ${Math.round(tCompile - t0)} ms, ${N} certificates in ${Math.round(performance.now() - tCompile)} ms; bundle envelopes ${sizes[0]}..${sizes[sizes.length - 1]} B`);
    const fleet: Fleet = { edges, caPem: ca.certPem, signingKeys: [signing.publicKey.export({ type: 'spki', format: 'pem' }).toString()] };

    // ---- baseline: the echo server
    const serverCert = await ca.issueServerCertificate(['127.0.0.1']);
    const echo = fork(join(root, 'bench/lib/echo-edge-api.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(echo);
    const listening = once<{ port: number }>(echo, 'listening', 30_000);
    echo.send({ type: 'init', keyPem: serverCert.keyPem, certPem: serverCert.pem + ca.certPem, caPem: ca.certPem, envelopesFile: envFile });
    const echoRes = await runSide('echo', `https://127.0.0.1:${(await listening).port}`, echo.pid!, fleet, async () => {
      echo.send({ type: 'fanout', envelopesFile: envFile2 });
      return Date.now();
    });
    echo.kill('SIGTERM');
    children.delete(echo);
    if (flags['echo-only']) { log('--echo-only: the controller side is not run; no JSON line'); return 1; }

    // ---- the controller
    const port = await freePort();
    const prof = flags['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', flags['cpu-prof']] : [];
    const ctl = spawn(process.execPath, [...prof, cli, 'controller', 'serve', '--state', state, '--listen', `127.0.0.1:${port}`, '--operator-listen', 'none'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(ctl);
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`controller did not start within 60 s: ${out}`)), 60_000);
      ctl.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('edge API on')) { clearTimeout(timer); resolve(); } });
      ctl.once('exit', (c) => { clearTimeout(timer); reject(new Error(`controller exited (${c}): ${out}`)); });
    });
    ctl.stdout!.resume();
    const ctlRes = await runSide('controller', `https://127.0.0.1:${port}`, ctl.pid!, fleet, async () => {
      await setDesired(store, names, 2);
      return Date.now();
    });
    const applied = (await store.listEdges()).filter((e) => e.appliedVersion === 2 && e.appliedHash === v2.bundles.get(e.name)?.hash).length;
    ctl.kill('SIGTERM');
    await new Promise((r) => ctl.once('exit', r));
    children.delete(ctl);
    await store.close();
    if (applied !== N) throw new Error(`the store shows ${applied} of ${N} edges applied version 2`);

    const f = ctlRes.fanout!;
    const out = {
      bench: 'controller-load', edges: N, workers: WORKERS, seconds: SECONDS,
      p50_ms: ctlRes.steady.all.p50, p99_ms: ctlRes.steady.all.p99,
      health_p50_ms: ctlRes.steady.health.p50, health_p99_ms: ctlRes.steady.health.p99,
      fetch_p50_ms: ctlRes.steady.fetch.p50, fetch_p99_ms: ctlRes.steady.fetch.p99,
      requests: ctlRes.steady.all.n,
      fanout_s: f.s, fanout_wake_s: f.wakeS, fanout_health_p99_ms: f.health.p99, fanout_cpu_pct: f.serverCpuPct,
      echo_fanout_s: echoRes.fanout!.s, echo_fanout_health_p99_ms: echoRes.fanout!.health.p99, fanout_ratio: r2(f.s / echoRes.fanout!.s),
      cpu_pct: ctlRes.serverCpuPct, rss_mb: ctlRes.serverRss.rss, rss_peak_mb: ctlRes.serverRss.peak,
      echo_p50_ms: echoRes.steady.all.p50, echo_p99_ms: echoRes.steady.all.p99,
      echo_health_p99_ms: echoRes.steady.health.p99, echo_fetch_p99_ms: echoRes.steady.fetch.p99, echo_requests: echoRes.steady.all.n,
      echo_cpu_pct: echoRes.serverCpuPct, echo_rss_mb: echoRes.serverRss.rss,
      p99_ratio: r2(ctlRes.steady.all.p99 / echoRes.steady.all.p99), cpu_ratio: r2(ctlRes.serverCpuPct / echoRes.serverCpuPct),
      sync_fetch_p99_ms: ctlRes.sync.fetch.p99, echo_sync_fetch_p99_ms: echoRes.sync.fetch.p99,
      client_cpu_pct: ctlRes.clientCpuPct, client_lag_p99_ms: ctlRes.clientLagP99, echo_client_cpu_pct: echoRes.clientCpuPct, echo_client_lag_p99_ms: echoRes.clientLagP99,
      warm_s: ctlRes.warmS, echo_warm_s: echoRes.warmS, client_verify_p50_ms: ctlRes.verify.p50, resends: ctlRes.resets, echo_resends: echoRes.resets,
      certs: 'pki-direct', fanout_by: 'setDesired-other-process', load_before: loadBefore, load_after: load(),
    };
    process.stdout.write(JSON.stringify(out) + '\n');
    return 0;
  } finally {
    await stopAll();
    rmSync(state, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code), (e) => {
  killAll();
  log(`cannot measure: ${(e as Error).message}`);
  process.exit(1);
});

/**
 * bench/wanopt.ts — WAN-opt core costs and savings, each against a baseline measured in the same run.
 *
 * Throughput (one core, medians of 5 rounds over the same random buffer):
 * - `cdc_sha_mb_s`: gear chunking + SHA-256 per chunk in one native call (OpenSSL libcrypto);
 * - `sha_only_mb_s`: the baseline — SHA-256 alone over exactly the same chunk ranges, same implementation;
 *   `ratio` = cdc_sha / sha_only (goal ≥ 0.5, and cdc_sha ≥ 700 MB/s);
 * - for information: chunking alone, node:crypto SHA-256 over the same ranges (the other SHA candidate),
 *   and the pure-JS fallback chunker; `avg_chunk` is the average chunk size achieved (params 2/8/64 KiB).
 * Savings, over real loopback TCP between two WAN-opt sessions with their own stores (no twin, no link
 * emulation yet): a mixed text + binary file, then the same file again, then a copy with 100 seeded edits
 * totalling 10 % of its bytes; `*_wire` are the bytes the sessions put on the connection and
 * `*_reduction` = 1 − wire / file size; `zstd_only_edited_wire` is zstd (level 3) of the edited copy alone.
 * Twin (`twin` in the JSON; skipped with --skip-twin): labs/wanopt-two-site, edge1's MPLS link at 20 Mbit/s
 * and 20 ms one way, every class steered on it. host1 sends a `--twin-file-mb` (50) MB mixed file to host2
 * over plain TCP, then the same file again, then the edited copy — once on a port outside the WAN-opt
 * classes (the baseline: the overlay alone) and once through the WAN-opt proxy, in the same run. Per
 * transfer: bytes edge1 sent on wan0 (the kernel's counter: everything, probes included) and the sender's
 * time to the sink's answer; plus zstd alone over the same streams (computed here, 1 MB pieces).
 * FEC (`fec` in the JSON; alone with --fec-only): the lab is deployed with its intent plus one FEC class per
 * setting (k/m/interleave of {@link FEC_SETTINGS}, UDP ports 6100…) and edge1's MPLS egress set to 20 ms
 * one way, no rate limit, and `--fec-loss` (2 %) loss: uniform, then Gilbert–Elliott of the same mean (r 25 %:
 * bursts of 4 packets on average, p = mean·r/(1 − mean)). Under each, one after another (concurrent streams
 * would share the loss chain and thin out each other's bursts): a `--fec-packets` (200000) packet 160-byte
 * UDP stream at `--fec-pps` (10000: the FEC part then takes ≈ 5 min; the plain check below shows whether the
 * twin keeps up) host1 → host2 outside the FEC classes (plain: the loss the link really
 * applied, which must be within 0.5 (uniform) / 1.0 (bursty) percentage points of the configured mean, or
 * the delay line or the receiver did not keep up and the bench exits 1), then the same stream in each FEC
 * class: residual loss at the receiving host, overhead = datagrams edge1's relay sent per packet it got
 * ((k+m)/k for full blocks) and the nominal (k+m)/k. Top level: `fec_uniform_residual` / `fec_bursty_residual`
 * of {@link FEC_RECOMMENDED} (`fec_setting`, k/m/interleave).
 * MB = 10^6 bytes. The last line is one JSON object with the raw figures. Exits 1 without numbers when the
 * native addon is not built or the twin cannot measure (a transfer delivering wrong bytes included).
 *
 * Run: flock /tmp/pt-heavy.lock npx tsx bench/wanopt.ts [--mb 128] [--file-mb 32] [--seed 7] [--skip-twin]
 *        [--twin-file-mb 50] [--fec-packets 200000] [--fec-pps 10000]
 *        [--fec-loss 0.02] [--fec-only]
 */
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { createServer, connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ChunkCompressor, ChunkStore, chunkBuffer, DEFAULT_CHUNK_PARAMS, wanoptAddon, WanoptSession, type WanoptFlow } from '../dataplane/wanopt/index.ts';

const { values } = parseArgs({ options: {
  mb: { type: 'string', default: '128' }, 'file-mb': { type: 'string', default: '32' }, seed: { type: 'string', default: '7' },
  'skip-twin': { type: 'boolean', default: false }, 'twin-file-mb': { type: 'string', default: '50' },
  'fec-packets': { type: 'string', default: '200000' }, 'fec-pps': { type: 'string', default: '10000' },
  'fec-loss': { type: 'string', default: '0.02' }, 'fec-only': { type: 'boolean', default: false },
} });
const MB = 1e6;
const SIZE = Math.round(Number(values.mb) * MB);
const FILE = Math.round(Number(values['file-mb']) * MB);
const SEED = Number(values.seed);

/** FEC settings measured on the twin: k data + m parity per block, interleaving depth d. */
const FEC_SETTINGS = [{ k: 8, m: 2, d: 1 }, { k: 8, m: 3, d: 1 }, { k: 16, m: 4, d: 1 }, { k: 8, m: 3, d: 4 }, { k: 16, m: 4, d: 2 }];
/**
 * The setting docs/wanopt.md recommends for voice (and the lab intent's `rtp` class): its residuals are the
 * top-level `fec_uniform_residual` / `fec_bursty_residual` of the JSON.
 */
const FEC_RECOMMENDED = { k: 8, m: 3, d: 1 };
/** The recommended setting's residuals from the `fec` part, for the JSON's top level. */
function fecHeadline(fec: any): Record<string, unknown> {
  const pick = (part: any) => part.settings.find((r: any) => r.k === FEC_RECOMMENDED.k && r.m === FEC_RECOMMENDED.m && r.interleave === FEC_RECOMMENDED.d).residual;
  return { fec_setting: `${FEC_RECOMMENDED.k}/${FEC_RECOMMENDED.m}/${FEC_RECOMMENDED.d}`, fec_uniform_residual: pick(fec.uniform), fec_bursty_residual: pick(fec.bursty) };
}
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const FEC_ONLY = values['fec-only'];
if (FEC_ONLY && values['skip-twin']) { console.error('bench/wanopt: --fec-only and --skip-twin leave nothing to measure'); process.exit(1); }
if (FEC_ONLY) {
  const fec = await twinPart();
  console.log(JSON.stringify({ bench: 'wanopt', fec_only: true, ...fecHeadline(fec.fec), ...fec }));
  process.exit(0);
}

const addon = wanoptAddon();
if (!addon) { console.error('bench/wanopt: the native addon is not built (node scripts/build.mjs); cannot measure'); process.exit(1); }

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const secs = (f: () => void) => { const t0 = process.hrtime.bigint(); f(); return Number(process.hrtime.bigint() - t0) / 1e9; };

/** xorshift32 stream, seeded. */
function rng(seed: number) { let x = seed >>> 0 || 1; return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; }; }
function randomBuf(n: number, seed: number): Buffer {
  const r = rng(seed), b = Buffer.allocUnsafe(n);
  for (let i = 0; i + 4 <= n; i += 4) b.writeUInt32LE(r(), i);
  for (let i = n & ~3; i < n; i++) b[i] = r() & 255;
  return b;
}

// ---- throughput ------------------------------------------------------------------------------------
const data = randomBuf(SIZE, SEED);
const P = DEFAULT_CHUNK_PARAMS;
const cdcSha: number[] = [], shaOnly: number[] = [], cdcOnly: number[] = [], nodeSha: number[] = [];
let cuts: Uint32Array = new Uint32Array();
for (let round = 0; round < 5; round++) {
  let digests: Buffer | undefined;
  cdcSha.push(SIZE / MB / secs(() => { const r = addon.chunk(data, P.min, P.avg, P.max, true, true); cuts = r.cuts; digests = r.digests; }));
  let again: Buffer | undefined;
  shaOnly.push(SIZE / MB / secs(() => { again = addon.sha256Ranges(data, cuts); }));
  if (!again!.equals(digests!)) throw new Error('bench/wanopt: the SHA-only pass disagrees with the chunker digests');
  cdcOnly.push(SIZE / MB / secs(() => { addon.chunk(data, P.min, P.avg, P.max, true, false); }));
  nodeSha.push(SIZE / MB / secs(() => { let s = 0; for (const c of cuts) { createHash('sha256').update(data.subarray(s, c)).digest(); s = c; } }));
}
const jsPart = data.subarray(0, Math.min(SIZE, 32 * MB));
const jsCdc = median([0, 1, 2].map(() => jsPart.length / MB / secs(() => chunkBuffer(jsPart, P, { impl: 'js', hash: false }))));
const avgChunk = SIZE / cuts.length;

// ---- savings over loopback TCP -----------------------------------------------------------------------
/** Text-like and random segments (64 KiB – 1 MiB each), about half of each. */
function mixedFile(n: number, seed: number): Buffer {
  const r = rng(seed);
  const words = readFileSync(new URL(import.meta.url)).toString('utf8').split(/\s+/).filter((w) => w.length > 1);
  const parts: Buffer[] = [];
  let len = 0;
  while (len < n) {
    const seg = 65_536 + (r() % (1 << 20));
    let p: Buffer;
    if (r() & 1) p = randomBuf(seg, r());
    else { const ws: string[] = []; let l = 0; while (l < seg) { const w = words[r() % words.length]!; ws.push(w); l += w.length + 1; } p = Buffer.from(ws.join(r() % 7 ? ' ' : '\n')).subarray(0, seg); }
    parts.push(p); len += p.length;
  }
  return Buffer.concat(parts).subarray(0, n);
}

/** 100 edits (replace, insert or delete) at seeded positions, totalling `fraction` of the bytes. */
function edited(file: Buffer, seed: number, fraction = 0.1, count = 100): Buffer {
  const r = rng(seed);
  const each = Math.round((file.length * fraction) / count);
  const at = Array.from({ length: count }, () => r() % (file.length - each)).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let pos = 0;
  for (const a of at) {
    if (a < pos) continue;
    out.push(file.subarray(pos, a));
    const kind = r() % 3;
    if (kind === 0) { out.push(randomBuf(each, r())); pos = a + each; }
    else if (kind === 1) { out.push(randomBuf(each, r())); pos = a; }
    else pos = a + each;
  }
  out.push(file.subarray(pos));
  return Buffer.concat(out);
}

async function transfer(client: WanoptSession, server: WanoptSession, payload: Buffer, got: Promise<Buffer>): Promise<{ wire: number; ms: number }> {
  const w0 = client.stats.wireOut + server.stats.wireOut;
  const t0 = performance.now();
  const f = client.openFlow(Buffer.from('bench'));
  f.resume();
  const closed = once(f, 'end');
  for (let i = 0; i < payload.length; i += 1 << 20) if (!f.write(payload.subarray(i, i + (1 << 20)))) await once(f, 'drain');
  f.end();
  const received = await got;
  if (!received.equals(payload)) throw new Error('bench/wanopt: the transfer delivered different bytes');
  await closed;
  return { wire: client.stats.wireOut + server.stats.wireOut - w0, ms: performance.now() - t0 };
}

const file = mixedFile(FILE, SEED + 1);
const copy = edited(file, SEED + 2);
let nextGot: ((b: Buffer) => void) | undefined;
const srv = createServer((sock) => {
  const s = new WanoptSession(sock, { role: 'server', store: new ChunkStore({ maxBytes: 512 << 20 }) });
  s.on('error', (e) => { console.error(`bench/wanopt: server session: ${e.message}`); process.exit(1); });
  s.on('flow', (f: WanoptFlow) => { const parts: Buffer[] = []; f.on('data', (d: Buffer) => parts.push(d)); f.on('end', () => { f.end(); nextGot!(Buffer.concat(parts)); }); });
  serverSession = s;
});
let serverSession: WanoptSession | undefined;
srv.listen(0, '127.0.0.1');
await once(srv, 'listening');
const sock = connect((srv.address() as { port: number }).port, '127.0.0.1');
await once(sock, 'connect');
const client = new WanoptSession(sock, { role: 'client', store: new ChunkStore({ maxBytes: 512 << 20 }) });
client.on('error', (e) => { console.error(`bench/wanopt: client session: ${e.message}`); process.exit(1); });
while (!serverSession) await new Promise((r) => setTimeout(r, 2));
const run = (p: Buffer) => transfer(client, serverSession!, p, new Promise<Buffer>((res) => { nextGot = res; }));
const first = await run(file);
const repeat = await run(file);
const edit = await run(copy);
client.close();
srv.close();
const zstdOnly = new ChunkCompressor({ mode: 'zstd' });
let zstdEdited = 0;
for (let i = 0; i < copy.length; i += 1 << 20) zstdEdited += zstdOnly.compress(copy.subarray(i, i + (1 << 20))).payload.length;

const twin = values['skip-twin'] ? undefined : await twinPart();
const cdcShaMedian = median(cdcSha), shaMedian = median(shaOnly);
console.log(`chunk+hash ${round(cdcShaMedian)} MB/s vs SHA-256 alone ${round(shaMedian)} MB/s (ratio ${round(cdcShaMedian / shaMedian, 3)}), chunking alone ${round(median(cdcOnly))} MB/s, node:crypto SHA ${round(median(nodeSha))} MB/s, JS chunker ${round(jsCdc)} MB/s, avg chunk ${Math.round(avgChunk)} B`);
console.log(`file ${file.length} B: first ${first.wire} B on the wire, repeat ${repeat.wire} B, edited copy (${copy.length} B) ${edit.wire} B; zstd alone on the edited copy ${zstdEdited} B`);
console.log(JSON.stringify({
  bench: 'wanopt',
  data_mb: SIZE / MB,
  cdc_sha_mb_s: round(cdcShaMedian),
  sha_only_mb_s: round(shaMedian),
  ratio: round(cdcShaMedian / shaMedian, 3),
  cdc_only_mb_s: round(median(cdcOnly)),
  node_sha_mb_s: round(median(nodeSha)),
  js_cdc_mb_s: round(jsCdc),
  avg_chunk: Math.round(avgChunk),
  chunks: cuts.length,
  file_bytes: file.length,
  first_wire: first.wire,
  repeat_wire: repeat.wire,
  edited_bytes: copy.length,
  edited_wire: edit.wire,
  zstd_only_edited_wire: zstdEdited,
  first_reduction: round(1 - first.wire / file.length, 4),
  repeat_reduction: round(1 - repeat.wire / file.length, 4),
  edited_copy_reduction: round(1 - edit.wire / copy.length, 4),
  zstd_only_edited_reduction: round(1 - zstdEdited / copy.length, 4),
  loopback_ms: { first: round(first.ms), repeat: round(repeat.ms), edited: round(edit.ms) },
  ...(twin && { ...fecHeadline(twin.fec), twin }),
}));

// ---- twin: the proxy between edges across a 20 Mbit/s, 20 ms link -------------------------------------
async function twinPart(): Promise<Record<string, unknown>> {
  const { getProvider } = await import('../twin/index.ts');
  const { bringUp, prepareLab } = await import('../controller/cli/twin.ts');
  const { agentRequest } = await import('../dataplane/index.ts');
  const { transfer: hostTransfer, txBytes, udpRun } = await import('../labs/wanopt-two-site/traffic.ts');
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const YAML = await import('yaml');
  const p = getProvider('netns');
  const lab = `wb${process.pid}`;
  const tmp = mkdtempSync('/tmp/pt-wanopt-bench-');
  const quiet = { write: () => true } as unknown as NodeJS.WritableStream;
  const status = async (node: string) => (await agentRequest(p.agentSocket(lab, node), 'GET', '/status')).body as any;
  const cleanup = async () => { await p.destroy(lab).catch(() => {}); rmSync(tmp, { recursive: true, force: true }); };
  const onSignal = () => void cleanup().then(() => process.exit(1));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // The lab's intent plus one FEC class per setting, so every setting runs in one deployment.
    const intent = YAML.parse(readFileSync('labs/wanopt-two-site/intent.yaml', 'utf8'));
    const fecClass = (f: { k: number; m: number; d: number }) => `fec${f.k}x${f.m}i${f.d}`;
    FEC_SETTINGS.forEach((f, i) => {
      const name = fecClass(f);
      intent.appClasses[name] = { match: [{ protocol: 'udp', ports: String(6100 + i) }] };
      intent.rules.splice(intent.rules.length - 1, 0, { name, app: name, paths: { preferred: ['mpls', 'inet'] } });
      intent.wanopt.fec[name] = { k: f.k, m: f.m, interleave: f.d, holdMs: 80 };
    });
    const intentFile = join(tmp, 'intent.yaml');
    writeFileSync(intentFile, YAML.stringify(intent));
    await bringUp(p, prepareLab('labs/wanopt-two-site/lab.yaml', { name: lab, intent: intentFile }), { out: quiet });
    const classes = ['files', 'rtp', 'default', ...FEC_SETTINGS.map(fecClass)];
    let onMpls = false;
    for (let i = 0; i < 150 && !onMpls; i++) {
      const st = await status('edge1');
      const mpls = st.paths?.find((x: any) => x.transport === 'mpls')?.id;
      onMpls = mpls !== undefined && classes.every((c) => st.steering?.find((s: any) => s.appClass === c)?.pathIds[0] === mpls);
      if (!onMpls) await new Promise((r) => setTimeout(r, 200));
    }
    if (!onMpls) throw new Error('steering never put every class on the MPLS path');

    const packets = Number(values['fec-packets']), pps = Number(values['fec-pps']), mean = Number(values['fec-loss']);
    if (!(packets > 0 && pps > 0 && mean > 0 && mean < 0.5)) throw new Error('--fec-packets, --fec-pps must be > 0 and --fec-loss in (0, 0.5)');
    const checkSteering = async (what: string) => {
      // Loss must not have moved the classes off the impaired path, or the figures compare different links.
      const st = await status('edge1');
      const mpls = st.paths.find((x: any) => x.transport === 'mpls')?.id;
      const moved = classes.filter((c) => st.steering.find((x: any) => x.appClass === c)?.pathIds[0] !== mpls);
      if (moved.length) throw new Error(`under ${what} steering moved ${moved.join(', ')} off the MPLS path; the FEC figures would compare different links`);
    };
    const fecRun = async (what: string, loss: unknown, tolerance: number) => {
      await p.setImpairment(lab, 'edge1:wan0', { delay: 20, loss } as any);
      const plain = await udpRun(lab, 7000, packets, pps);
      console.error(`twin: ${what}: plain UDP loss ${round(plain.loss * 100, 3)} %`);
      if (Math.abs(plain.loss - mean) > tolerance) throw new Error(`under ${what} the plain stream lost ${round(plain.loss * 100, 3)} %, configured ${mean * 100} % ± ${tolerance * 100}: the delay line or the receiver did not keep up at ${pps} packets/s (try a lower --fec-pps)`);
      const settings: Record<string, unknown>[] = [];
      for (const [i, f] of FEC_SETTINGS.entries()) {
        const s0 = (await status('edge1')).wanopt.fec;
        const r = await udpRun(lab, 6100 + i, packets, pps);
        const s1 = (await status('edge1')).wanopt.fec;
        const row = { k: f.k, m: f.m, interleave: f.d, residual: round(r.loss, 6), overhead: round((s1.sent - s0.sent) / (s1.fromLan - s0.fromLan), 4), nominal_overhead: round((f.k + f.m) / f.k, 4) };
        console.error(`twin: ${what}: ${JSON.stringify(row)}`);
        settings.push(row);
      }
      await checkSteering(what);
      return { plain_loss: round(plain.loss, 6), settings };
    };
    const load1 = () => Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
    const load1Before = load1();
    const t0 = performance.now();
    const r = 0.25;
    const uniform = await fecRun(`${mean * 100} % uniform loss`, mean, 0.005);
    const bursty = await fecRun(`Gilbert–Elliott loss of mean ${mean * 100} %`, { model: 'gilbert-elliott', p: (mean * r) / (1 - mean), r, lossGood: 0, lossBad: 1 }, 0.01);
    await p.setImpairment(lab, 'edge1:wan0', { delay: 20, rate: 20e6 } as any);
    const fec = {
      link: '20 ms one way, no rate limit (edge1 MPLS)', packets, pps, packet_bytes: 160, loss_mean: mean,
      gilbert_elliott: { p: round((mean * r) / (1 - mean), 6), r, mean_burst: 1 / r }, fec_seconds: round((performance.now() - t0) / 1000),
      load1_before: load1Before, load1_after: load1(),
      uniform, bursty,
    };
    if (FEC_ONLY) return { fec };
    const big = mixedFile(Math.round(Number(values['twin-file-mb']) * MB), SEED + 3);
    const bigCopy = edited(big, SEED + 4);
    const files = { file: join(tmp, 'file.bin'), copy: join(tmp, 'copy.bin') };
    writeFileSync(files.file, big);
    writeFileSync(files.copy, bigCopy);
    const shas = { file: createHash('sha256').update(big).digest('hex'), copy: createHash('sha256').update(bigCopy).digest('hex') };
    const one = async (port: number, which: 'file' | 'copy') => {
      const before = await txBytes(p, lab, 'edge1', 'wan0');
      const { sink, sender } = await hostTransfer(lab, port, files[which], 600_000);
      if (sink.sha !== shas[which] || sender.reply !== shas[which]) throw new Error(`transfer of ${which} on port ${port} delivered different bytes`);
      const r = { wan_bytes: (await txBytes(p, lab, 'edge1', 'wan0')) - before, ms: round(sender.ms as number) };
      console.error(`twin: ${which} on port ${port}: ${JSON.stringify(r)}`);
      return r;
    };
    const plain = { first: await one(5201, 'file'), repeat: await one(5201, 'file'), edited: await one(5201, 'copy') };
    const wanopt = { first: await one(5001, 'file'), repeat: await one(5001, 'file'), edited: await one(5001, 'copy') };
    const proxy = (await status('edge1')).wanopt?.proxy;
    if (!proxy || proxy.flowsIntercepted !== 3) throw new Error(`edge1 intercepted ${proxy?.flowsIntercepted} transfers, expected 3`);
    const z = new ChunkCompressor({ mode: 'zstd' });
    const zstdOf = (b: Buffer) => { let n = 0; for (let i = 0; i < b.length; i += MB) n += z.compress(b.subarray(i, i + MB)).payload.length; return n; };

    await p.setImpairment(lab, 'edge1:wan0', { delay: 20, rate: 20e6 } as any);
    return {
      link: '20 Mbit/s, 20 ms one way (edge1 MPLS)', file_bytes: big.length, edited_bytes: bigCopy.length,
      plain, wanopt, zstd_only: { first: zstdOf(big), repeat: zstdOf(big), edited: zstdOf(bigCopy) },
      edited_copy_reduction: round(1 - wanopt.edited.wan_bytes / plain.edited.wan_bytes, 4),
      repeat_reduction: round(1 - wanopt.repeat.wan_bytes / plain.repeat.wan_bytes, 4),
      repeat_speedup: round(plain.repeat.ms / wanopt.repeat.ms, 2),
      first_speedup: round(plain.first.ms / wanopt.first.ms, 2),
      edited_speedup: round(plain.edited.ms / wanopt.edited.ms, 2),
      fec,
    };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
}

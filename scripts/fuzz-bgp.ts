/**
 * Mutation fuzzer for the BGP decoder. Seeds are the annotated fixtures in testdata/bgp/fixtures plus
 * generated UPDATEs; mutations flip bits, set interesting bytes, insert, delete, truncate, splice and
 * repair length fields so inputs get past the header checks. Invariants checked per case, for both
 * 2- and 4-octet AS contexts: decoding never throws; a message that decodes cleanly re-encodes (or is
 * refused only for size) and decodes again to the same value (4-octet context).
 * A violating input is saved to testdata/bgp/crashers/<hash>.hex, which a plain test replays.
 *
 * Usage: node --import tsx scripts/fuzz-bgp.ts [--cases 1000000] [--seed 1]   (prints one JSON line; exit 1 on findings)
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeMessage, encodeMessage, encodeUpdate, type CodecContext } from '../dataplane/bgp/codec/index.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
export const crasherDir = join(root, 'testdata/bgp/crashers');

/** Bytes of an annotated hex file (`#` comments, whitespace ignored). */
export function readHex(path: string): Uint8Array {
  return new Uint8Array(Buffer.from(readFileSync(path, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').replace(/\s+/g, '')).join(''), 'hex'));
}

/** JSON with sorted keys and bytes as hex, so equal values compare equal whatever the key order. */
const plain = (x: unknown): string => JSON.stringify(x, (_k, v: unknown) => {
  if (v instanceof Uint8Array) return Buffer.from(v).toString('hex');
  if (v && typeof v === 'object' && !Array.isArray(v)) return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)));
  return v;
});

/** Checks the invariants on one input; returns a description of the violation, or undefined. */
export function checkInput(b: Uint8Array): string | undefined {
  for (const ctx of [{ as4: true }, { as4: false }] as CodecContext[]) {
    let r;
    try { r = decodeMessage(b, ctx); } catch (e) { return `decode threw (as4=${ctx.as4}): ${(e as Error).stack}`; }
    if (!r.ok || !ctx.as4) continue;
    if (r.msg.type === 'update' && r.msg.errors) continue;
    let again: Uint8Array;
    try { again = encodeMessage(r.msg, ctx); } catch (e) { if (e instanceof RangeError) continue; return `re-encode threw: ${(e as Error).stack}`; }
    let r2;
    try { r2 = decodeMessage(again, ctx); } catch (e) { return `decode of re-encoding threw: ${(e as Error).stack}`; }
    if (!r2.ok) return `re-encoding does not decode: ${r2.error.reason}`;
    if (plain(r2.msg) !== plain(r.msg)) return `round trip changed the message:\n${plain(r.msg)}\n${plain(r2.msg)}`;
  }
  return undefined;
}

/** Small deterministic PRNG (mulberry32) so a seed reproduces a run. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => { a = (a + 0x6d2b79f5) >>> 0; let t = a; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
}

function seeds(): Uint8Array[] {
  const dir = join(root, 'testdata/bgp/fixtures');
  const out = readdirSync(dir).filter((f) => f.endsWith('.hex')).map((f) => readHex(join(dir, f)));
  out.push(encodeUpdate({
    withdrawn: ['10.0.0.0/8'], nlri: ['192.0.2.0/24', '198.51.100.128/25'],
    attrs: { origin: 0, asPath: [{ type: 2, asns: [65001, 65002] }, { type: 1, asns: [1, 2] }], nextHop: '192.0.2.1', med: 1, localPref: 2, communities: [1, 2], originatorId: '1.1.1.1', clusterList: ['2.2.2.2'], largeCommunities: [[1, 2, 3]] },
  }, { as4: true }));
  return out;
}

const INTERESTING = [0x00, 0x01, 0x02, 0x03, 0x04, 0x0e, 0x0f, 0x10, 0x11, 0x20, 0x21, 0x40, 0x7f, 0x80, 0x81, 0xc0, 0xe0, 0xfe, 0xff];

function mutate(src: Uint8Array, other: Uint8Array, rnd: () => number): Uint8Array {
  let b = Array.from(src);
  const pick = (n: number) => Math.floor(rnd() * n);
  const rounds = 1 + pick(4);
  for (let k = 0; k < rounds; k++) {
    const i = b.length ? pick(b.length) : 0;
    switch (pick(8)) {
      case 0: if (b.length) b[i] = b[i]! ^ (1 << pick(8)); break;
      case 1: if (b.length) b[i] = INTERESTING[pick(INTERESTING.length)]!; break;
      case 2: b.splice(i, 0, ...Array.from({ length: 1 + pick(8) }, () => pick(256))); break;
      case 3: b.splice(i, 1 + pick(8)); break;
      case 4: b = b.slice(0, pick(b.length + 1)); break;
      case 5: { const j = pick(other.length + 1); b = [...b.slice(0, i), ...Array.from(other.subarray(j, j + 1 + pick(40)))]; break; }
      case 6: if (b.length > 20) { const j = 19 + pick(b.length - 19); b[j] = (b[j]! + (rnd() < 0.5 ? 1 : -1)) & 0xff; } break; // nudge a length byte
      default: if (b.length > i + 1) { const v = pick(0x10000); b[i] = v >> 8; b[i + 1] = v & 0xff; }
    }
  }
  // Most of the time repair the header so the body parsers are exercised rather than the framer.
  if (b.length >= 19 && rnd() < 0.85) { for (let j = 0; j < 16; j++) b[j] = 0xff; b[16] = (b.length >> 8) & 0xff; b[17] = b.length & 0xff; }
  return new Uint8Array(b);
}

/** Runs `cases` mutations from `seed`; saves and returns the violating inputs. */
export function fuzz(cases: number, seed = 1, save = true): { cases: number; findings: { file: string; problem: string }[]; ms: number } {
  const rnd = prng(seed);
  const corpus = seeds();
  const findings: { file: string; problem: string }[] = [];
  const t0 = Date.now();
  for (let n = 0; n < cases; n++) {
    const input = mutate(corpus[Math.floor(rnd() * corpus.length)]!, corpus[Math.floor(rnd() * corpus.length)]!, rnd);
    const problem = checkInput(input);
    if (!problem) continue;
    const hash = createHash('sha1').update(input).digest('hex').slice(0, 16);
    const file = join(crasherDir, `${hash}.hex`);
    if (save) {
      mkdirSync(crasherDir, { recursive: true });
      writeFileSync(file, `# found by scripts/fuzz-bgp.ts seed ${seed} case ${n}: ${problem.split('\n')[0]}\n${Buffer.from(input).toString('hex').replace(/(.{64})/g, '$1\n')}\n`);
    }
    findings.push({ file, problem });
    if (findings.length >= 20) break;
  }
  return { cases, findings, ms: Date.now() - t0 };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const arg = (name: string, dflt: number) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : dflt; };
  const r = fuzz(arg('--cases', 1_000_000), arg('--seed', 1));
  for (const f of r.findings) process.stderr.write(`${f.file}: ${f.problem}\n`);
  console.log(JSON.stringify({ cases: r.cases, findings: r.findings.length, ms: r.ms, perSecond: Math.round(r.cases / (r.ms / 1000)) }));
  process.exit(r.findings.length ? 1 : 0);
}

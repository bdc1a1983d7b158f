/**
 * Host traffic for the wanopt-two-site lab, shared by test/labs/wanopt.test.ts and bench/wanopt.ts: the
 * plain TCP/UDP tools of traffic.mjs run in the host namespaces (the hosts need no configuration), WAN
 * byte counters read from an edge's interface, and the test files (mixed text and binary, and a copy with
 * seeded edits).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TwinProvider } from '../../twin/index.ts';
import { nsName } from '../../twin/index.ts';

const tool = fileURLToPath(new URL('./traffic.mjs', import.meta.url));

/** Run traffic.mjs in `node`'s namespace; resolves with its JSON lines once `ready` (the first line) arrived. */
function start(lab: string, node: string, args: string[], timeoutMs: number): { ready: Promise<void>; done: Promise<Record<string, any>[]> } {
  const child = spawn('ip', ['netns', 'exec', nsName(lab, node), process.execPath, tool, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  let out = '', err = '';
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => { readyResolve = r; });
  child.stdout.on('data', (d) => { out += d; if (out.includes('\n')) readyResolve(); });
  child.stderr.on('data', (d) => { err += d; });
  const done = new Promise<Record<string, any>[]>((resolve, reject) => child.on('close', (code) => {
    clearTimeout(timer);
    readyResolve();
    const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>);
    if (code !== 0) reject(new Error(`traffic.mjs ${args.join(' ')} on ${node} exited ${code}: ${err.trim() || out.trim()}`));
    else resolve(lines);
  }));
  return { ready, done };
}

/** One TCP transfer host1 → host2:port of `file`; the sink's view ({bytes, sha, ms}) and the sender's ({bytes, ms, reply}). */
export async function transfer(lab: string, port: number, file: string, timeoutMs = 120_000): Promise<{ sink: Record<string, any>; sender: Record<string, any> }> {
  const sink = start(lab, 'host2', ['sink', '10.2.0.10', String(port), '1'], timeoutMs);
  await sink.ready;
  const sender = start(lab, 'host1', ['send', '10.2.0.10', String(port), file], timeoutMs);
  const [s, c] = await Promise.all([sink.done, sender.done]);
  return { sink: s.at(-1)!, sender: c.at(-1)! };
}

/** `count` UDP packets host1 → host2:port at `pps`; the receiver's distinct sequence numbers. */
export async function udpRun(lab: string, port: number, count: number, pps: number, size = 160): Promise<{ sent: number; unique: number; loss: number }> {
  const sink = start(lab, 'host2', ['udpsink', '10.2.0.10', String(port), '1500'], 60_000 + (count / pps) * 1000);
  await sink.ready;
  const sender = start(lab, 'host1', ['udpsend', '10.2.0.10', String(port), String(count), String(pps), String(size)], 60_000 + (count / pps) * 1000);
  const [s, c] = await Promise.all([sink.done, sender.done]);
  const sent = c.at(-1)!.sent as number, unique = s.at(-1)!.unique as number;
  return { sent, unique, loss: (sent - unique) / sent };
}

/** Bytes `node` has sent on `dev` (kernel interface counter). */
export async function txBytes(p: TwinProvider, lab: string, node: string, dev: string): Promise<number> {
  return Number((await p.exec(lab, node, ['cat', `/sys/class/net/${dev}/statistics/tx_bytes`])).stdout.trim());
}

function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x; };
}

/**
 * `size` bytes of mixed content, reproducible from `seed`: alternating runs of log-like text (compressible)
 * and random bytes (incompressible), 4–64 KiB each.
 */
export function mixedFile(size: number, seed: number): Buffer {
  const r = prng(seed);
  const out = Buffer.allocUnsafe(size);
  let off = 0, text = true;
  while (off < size) {
    const n = Math.min(size - off, 4096 + (r() % 61440));
    if (text) {
      let s = '';
      while (s.length < n) s += `2026-11-26T12:${String(r() % 60).padStart(2, '0')} host${r() % 50} GET /api/v1/item/${r() % 100000} 200 ${r() % 9000}ms\n`;
      out.write(s.slice(0, n), off, 'latin1');
    } else {
      for (let i = 0; i < n; i++) out[off + i] = r() & 255;
    }
    off += n;
    text = !text;
  }
  return out;
}

/**
 * A copy of `base` with `edits` seeded edits scattered through it whose sizes total `fraction` of its
 * bytes: each edit overwrites, inserts or deletes a run (a third each), so boundaries shift as in real edits.
 */
export function editedCopy(base: Buffer, edits: number, fraction: number, seed: number): Buffer {
  const r = prng(seed);
  const each = Math.max(1, Math.round((base.length * fraction) / edits));
  const at = Array.from({ length: edits }, () => r() % base.length).sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let prev = 0;
  for (const pos of at) {
    if (pos < prev) continue;
    parts.push(base.subarray(prev, pos));
    const fresh = Buffer.allocUnsafe(each);
    for (let i = 0; i < each; i++) fresh[i] = r() & 255;
    const kind = r() % 3;
    if (kind === 0) { parts.push(fresh); prev = Math.min(base.length, pos + each); }      // overwrite
    else if (kind === 1) { parts.push(fresh); prev = pos; }                              // insert
    else prev = Math.min(base.length, pos + each);                                       // delete
  }
  parts.push(base.subarray(prev));
  return Buffer.concat(parts);
}

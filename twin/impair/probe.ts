/**
 * Raw-frame link probes (pt-probe) between two endpoint interfaces of a deployed netns lab: the receiver
 * listens on the far endpoint, the sender writes timestamped frames on the near one, and since both run on
 * the same host clock each frame's one-way delay is simply rx − tx.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { nsName } from '../providers/netns/names.ts';
import { runOk } from '../providers/netns/sh.ts';
import { nativeBin } from './delayline.ts';

/** One received probe: sequence number, send and receive times (ns, CLOCK_MONOTONIC), frame length (bytes). */
export interface ProbeRecord { seq: number; txNs: number; rxNs: number; len: number }

/** Probe run options: `count` frames every `intervalUs` µs (0: as fast as possible) of `size` bytes. */
export interface ProbeOptions { count: number; intervalUs: number; size?: number; tag?: number; idleMs?: number }

/** What one probe run saw: frames sent and the records of those received, in arrival order. */
export interface ProbeResult { sent: number; received: ProbeRecord[] }

/** Split "node:interface". */
function split(endpoint: string): [string, string] {
  const [n, i] = endpoint.split(':');
  if (!n || !i) throw new Error(`endpoint "${endpoint}": expected "node:interface"`);
  return [n, i];
}

/**
 * Send probes from endpoint `from` to endpoint `to` of lab `lab` ("node:interface" each).
 * Example: `await probe('lab1', 'a:eth0', 'b:eth0', {count: 1000, intervalUs: 1000})`.
 */
export async function probe(lab: string, from: string, to: string, o: ProbeOptions): Promise<ProbeResult> {
  const [fn, fi] = split(from);
  const [tn, ti] = split(to);
  const tag = o.tag ?? (Math.floor(Math.random() * 2 ** 31) >>> 0);
  const expectMs = (o.count * o.intervalUs) / 1000;
  const rx = spawn('ip', ['netns', 'exec', nsName(lab, tn), nativeBin('pt-probe'), 'recv', ti, '--tag', String(tag),
    '--count', String(o.count), '--idle-ms', String(o.idleMs ?? 1000), '--timeout-ms', String(Math.ceil(expectMs + 10_000))], { stdio: ['ignore', 'pipe', 'inherit'] });
  const received: ProbeRecord[] = [];
  let ready!: () => void;
  const isReady = new Promise<void>((r) => { ready = r; });
  const done = new Promise<void>((resolve, reject) => {
    rx.on('error', reject);
    rx.on('close', (code) => { ready(); if (code === 0) resolve(); else reject(new Error(`pt-probe recv exited ${code}`)); });
  });
  createInterface({ input: rx.stdout! }).on('line', (line) => {
    if (line === 'ready') { ready(); return; }
    const f = line.split(' ');
    if (f.length === 4) received.push({ seq: Number(f[0]), txNs: Number(f[1]), rxNs: Number(f[2]), len: Number(f[3]) });
  });
  await isReady;
  const out = await runOk(['ip', 'netns', 'exec', nsName(lab, fn), nativeBin('pt-probe'), 'send', fi, '--count', String(o.count),
    '--interval-us', String(o.intervalUs), '--size', String(o.size ?? 100), '--tag', String(tag)]);
  await done;
  return { sent: (JSON.parse(out) as { sent: number }).sent, received };
}

/** Median of a list of numbers (NaN when empty). */
export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Percentile p (0..100) by nearest rank. */
export function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** One-way delays in ms of a probe result. */
export const delaysMs = (r: ProbeResult) => r.received.map((x) => (x.rxNs - x.txNs) / 1e6);

/** Loss flags by sequence number (true = lost) for `count` probes. */
export function lossPattern(r: ProbeResult, count: number): boolean[] {
  const lost = new Array<boolean>(count).fill(true);
  for (const x of r.received) if (x.seq < count) lost[x.seq] = false;
  return lost;
}

/** Received L2 rate in bit/s between the first and last frame (the first frame only opens the window). */
export function rxRateBps(r: ProbeResult): number {
  const rs = r.received;
  if (rs.length < 2) return NaN;
  const bytes = rs.slice(1).reduce((a, x) => a + x.len, 0);
  return (bytes * 8) / ((rs[rs.length - 1]!.rxNs - rs[0]!.rxNs) / 1e9);
}

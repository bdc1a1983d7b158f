/**
 * The voice flow of bench/failover.ts and test/labs/failover.test.ts, and the arithmetic on what its
 * receiver saw. {@link VoiceFlow} runs voice.mjs in two twin hosts (receiver first, then the sender) and
 * collects every arrival as {@link Arrival}; the pure functions below turn arrivals into the figures:
 * the outage gap around a cut, the moment the flow moved to another path, and the packets lost.
 *
 * Example:
 *   const flow = await VoiceFlow.start(provider, lab, { from: 'host1', to: 'host2', toAddress: '10.2.0.10', port: 20000 });
 *   const t0 = wallMs(); await provider.setLinkState(lab, 'mpls:p2', 'down'); await sleep(2000);
 *   outage(flow.arrivals, t0, 2000)  // → { gapMs: 180.4, lost: 8 }
 *   await flow.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import type { TwinProvider } from '../../twin/index.ts';

/** One datagram as the receiver saw it: sequence, send and receive wall-clock times (ms). */
export interface Arrival { seq: number; sent: number; recv: number }

/** Wall-clock ms with µs resolution, the clock voice.mjs stamps with (shared by every namespace). */
export const wallMs = (): number => performance.timeOrigin + performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const SCRIPT = fileURLToPath(new URL('./voice.mjs', import.meta.url));
const ns = (lab: string, node: string) => `pt.${lab}.${node}`;

export interface VoiceFlowOptions {
  from: string;
  to: string;
  toAddress: string;
  /** UDP destination port; 16384-32767 with EF is the intents' voip class. */
  port: number;
  /** Mark the flow DSCP EF (an nftables rule in the sender's namespace). Default true. */
  ef?: boolean;
  pps?: number;
  size?: number;
}

export class VoiceFlow {
  readonly arrivals: Arrival[] = [];
  private sendArgs: string[] = [];
  private constructor(private readonly procs: ChildProcess[]) {}

  static async start(provider: TwinProvider, lab: string, o: VoiceFlowOptions): Promise<VoiceFlow> {
    if (o.ef ?? true) {
      // The table lives in the host's namespace and goes away with it.
      const rule = `table ip pt_voice {\n chain out {\n  type filter hook output priority 0;\n  udp dport ${o.port} ip dscp set ef\n }\n}\n`;
      const r = await provider.exec(lab, o.from, ['sh', '-c', `printf '%s' '${rule}' | nft -f -`]);
      if (r.code !== 0) throw new Error(`${o.from}: cannot install the DSCP EF rule: ${r.stderr}`);
    }
    const recv = spawn('ip', ['netns', 'exec', ns(lab, o.to), process.execPath, SCRIPT, 'recv', String(o.port)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const flow = new VoiceFlow([recv]);
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`voice receiver in ${o.to} did not start within 10 s`)), 10_000);
      recv.once('exit', (code) => { clearTimeout(timer); reject(new Error(`voice receiver in ${o.to} exited (${code})`)); });
      createInterface({ input: recv.stdout! }).on('line', (line) => {
        if (line === 'ready') { clearTimeout(timer); resolve(); return; }
        const [seq, sent, at] = line.split(' ').map(Number);
        flow.arrivals.push({ seq: seq!, sent: sent!, recv: at! });
      });
    });
    try {
      await ready;
    } catch (e) {
      await flow.stop();
      throw e;
    }
    flow.sendArgs = ['netns', 'exec', ns(lab, o.from), process.execPath, SCRIPT, 'send', o.toAddress, String(o.port), String(o.pps ?? 50), String(o.size ?? 200)];
    flow.procs.push(spawn('ip', flow.sendArgs, { stdio: 'inherit' }));
    return flow;
  }

  /**
   * Replace the sender by a new one: a new source port, so a new flow that takes the current steering
   * selection (an existing flow stays pinned to a path that still complies). Sequence numbers restart at 0.
   */
  async restartSender(): Promise<void> {
    const old = this.procs.pop()!;
    await new Promise<void>((resolve) => { old.once('exit', () => resolve()); old.kill('SIGTERM'); });
    this.procs.push(spawn('ip', this.sendArgs, { stdio: 'inherit' }));
  }

  /** Arrivals received at or after `t` (wall ms). */
  since(t: number): Arrival[] {
    const out: Arrival[] = [];
    for (let i = this.arrivals.length - 1; i >= 0 && this.arrivals[i]!.recv >= t; i--) out.push(this.arrivals[i]!);
    return out.reverse();
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
      setTimeout(() => { p.kill('SIGKILL'); resolve(); }, 2000).unref();
    })));
  }
}

/**
 * The outage a fault at `t0` caused: the longest silence between two consecutive arrivals received in
 * [t0 − 100 ms, t0 + windowMs] (the last packet before it came on the old path, the first after it on the
 * new one), and the sequence numbers missing across that window. Undefined when nothing arrived after
 * the silence (the flow did not come back within the window).
 */
export function outage(arrivals: readonly Arrival[], t0: number, windowMs: number): { gapMs: number; lost: number; lastOld: Arrival; firstNew: Arrival } | undefined {
  const win = arrivals.filter((a) => a.recv >= t0 - 100 && a.recv <= t0 + windowMs).sort((a, b) => a.recv - b.recv);
  let best: { gapMs: number; i: number } | undefined;
  for (let i = 1; i < win.length; i++) {
    const g = win[i]!.recv - win[i - 1]!.recv;
    if (!best || g > best.gapMs) best = { gapMs: g, i };
  }
  if (!best || win[best.i]!.recv < t0) return undefined;
  return { gapMs: best.gapMs, lost: lost(win), lastOld: win[best.i - 1]!, firstNew: win[best.i]! };
}

/** Sequence numbers missing between the lowest and highest seen (duplicates count once). */
export function lost(arrivals: readonly Arrival[]): number {
  if (!arrivals.length) return 0;
  const seqs = new Set(arrivals.map((a) => a.seq));
  let lo = Infinity, hi = -Infinity;
  for (const s of seqs) { lo = Math.min(lo, s); hi = Math.max(hi, s); }
  return hi - lo + 1 - seqs.size;
}

/**
 * How long after `t0` the flow moved: the receive time of the first packet sent at or after `t0` that
 * `onNewPath` recognises (by its one-way delay, sent → recv), minus t0. Undefined if none did.
 */
export function movedAfter(arrivals: readonly Arrival[], t0: number, onNewPath: (owdMs: number) => boolean): number | undefined {
  const first = arrivals.filter((a) => a.sent >= t0 && onNewPath(a.recv - a.sent)).sort((a, b) => a.recv - b.recv)[0];
  return first && first.recv - t0;
}

/** Nearest-rank percentile (p in 0..100) of a non-empty list. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/**
 * Copies of labs/two-site-dual-wan into `dir` (run from the repo root): edge1's underlay links impairable (delay lines), its intent beside
 * it, and intent-dup.yaml with the voice rule's `strategy: duplicate`.
 */
export function writeLabCopies(dir: string): { lab: string; dupIntent: string } {
  const src = 'labs/two-site-dual-wan';
  let lab = readFileSync(join(src, 'lab.yaml'), 'utf8');
  for (const l of ['- endpoints: ["edge1:wan0", "mpls:p1"]', '- endpoints: ["edge1:wan1", "inet:p1"]']) {
    if (!lab.includes(l)) throw new Error(`${src}/lab.yaml: link line ${l} not found; update bench/failover.ts`);
    lab = lab.replace(l, `${l}\n      impairable: true`);
  }
  writeFileSync(join(dir, 'lab.yaml'), lab);
  const intent = readFileSync(join(src, 'intent.yaml'), 'utf8');
  writeFileSync(join(dir, 'intent.yaml'), intent);
  const voice = '    paths: { preferred: [mpls, inet] }';
  if (!intent.includes(voice)) throw new Error(`${src}/intent.yaml: the voice rule's paths line not found; update bench/failover.ts`);
  writeFileSync(join(dir, 'intent-dup.yaml'), intent.replace(voice, '    paths: { preferred: [mpls, inet], strategy: duplicate }'));
  return { lab: join(dir, 'lab.yaml'), dupIntent: join(dir, 'intent-dup.yaml') };
}

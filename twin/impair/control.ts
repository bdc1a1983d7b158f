/**
 * Client of a delay line's control socket (a unix stream socket; one request line, one reply line).
 * Requests: `ping`, `stats` (JSON counters per direction), `set dir=0|1|both key=value…`, `seed value=N
 * dir=…`, `sched-clear dir=…`, `sched-add dir=… at_ns=… key=value…`, `sched-start period_ns=N`.
 */
import { createConnection } from 'node:net';
import { existsSync } from 'node:fs';
import { paramArgs, scheduleStates, lineParams, type LineParams } from './params.ts';
import type { Impair } from '../lab/schema.ts';

/** Counters and parameters of one direction, as `stats` reports them (bytes are L2 frame bytes). */
export interface DirStats {
  dir: 0 | 1;
  rx_if: string;
  tx_if: string;
  rx_pkts: number; rx_bytes: number; tx_pkts: number; tx_bytes: number;
  drop_loss: number; drop_down: number; drop_queue: number; drop_tx: number; max_queue_bytes: number;
  delay_ns: number; jitter_ns: number; loss_kind: number; p: number; r: number; loss_good: number; loss_bad: number;
  ge_bad: number; down: number; rate_bps: number; buffer_bytes: number; steps: number;
  /**
   * How late packets left against their due time (arrival + delay ± jitter): the worst, ns, and a sparse
   * histogram of [bucket, packets] pairs since start — bucket b holds lateness below b+1 µs for b < 8,
   * then four linear sub-buckets per power of two (scenarios/trust.ts `lateBucketUpperUs` decodes them).
   */
  late_max_ns: number; late_hist: [number, number][];
}
export interface LineStats { uptime_ns: number; schedule: number; dirs: [DirStats, DirStats] }

/** A delay line refused a request (bad parameters, tc failed). */
export class DelayLineError extends Error { override name = 'DelayLineError'; }

/** Send request lines in order over one connection; resolves with the replies. Rejects on an `error` reply. */
export function request(socket: string, lines: string[], timeoutMs = 5000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    if (!existsSync(socket)) { reject(new DelayLineError(`no delay line control socket at ${socket}`)); return; }
    const c = createConnection(socket);
    const replies: string[] = [];
    let buf = '';
    const timer = setTimeout(() => { c.destroy(); reject(new DelayLineError(`delay line at ${socket} did not answer within ${timeoutMs} ms`)); }, timeoutMs);
    const finish = (e?: Error) => { clearTimeout(timer); c.destroy(); if (e) reject(e); else resolve(replies); };
    // Requests go one at a time so an error stops the rest (a half-applied schedule is not left running).
    const next = () => { if (replies.length === lines.length) finish(); else c.write(lines[replies.length] + '\n'); };
    c.on('connect', next);
    c.on('error', (e) => finish(new DelayLineError(`delay line at ${socket}: ${e.message}`)));
    c.on('data', (d) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('error')) { finish(new DelayLineError(`delay line refused "${lines[replies.length]}": ${line.slice(6)}`)); return; }
        replies.push(line);
        next();
      }
    });
  });
}

/** The requests that make direction `dir` follow `impair` (static, or a schedule), replacing what it did. */
export function impairRequests(dir: 0 | 1, impair: Impair | null): string[] {
  const lines = [`sched-clear dir=${dir}`];
  const { schedule, trace: _trace, ...base } = impair ?? {};
  lines.push(`set dir=${dir} ${paramArgs(lineParams(base))}`);
  if (schedule) {
    for (const s of scheduleStates(base, schedule.steps)) lines.push(`sched-add dir=${dir} at_ns=${Math.round(s.at * 1e6)} ${paramArgs(lineParams(s))}`);
    lines.push(`sched-start period_ns=${Math.round((schedule.repeat ?? 0) * 1e6)}`);
  }
  return lines;
}

/** A handle on one link's delay line. */
export class DelayLine {
  constructor(readonly socket: string) {}
  /** Make direction `dir` (0: traffic leaving endpoint 0) follow `impair`; null clears it. */
  async impair(dir: 0 | 1, impair: Impair | null): Promise<void> { await request(this.socket, impairRequests(dir, impair)); }
  /** Set one direction's parameters directly. */
  async set(dir: 0 | 1 | 'both', p: LineParams): Promise<void> { await request(this.socket, [`set dir=${dir} ${paramArgs(p)}`]); }
  /** Restart the loss generator(s) from `seed` (a scenario seed reproduces the same loss pattern). */
  async seed(seed: number, dir: 0 | 1 | 'both' = 'both'): Promise<void> { await request(this.socket, [`seed value=${seed} dir=${dir}`]); }
  async stats(): Promise<LineStats> { return JSON.parse((await request(this.socket, ['stats']))[0]!) as LineStats; }
  async ping(): Promise<boolean> { try { return (await request(this.socket, ['ping'], 1000))[0] === 'ok'; } catch { return false; } }
}

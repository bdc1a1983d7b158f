/**
 * The agent's raw-probe log: a bounded ring of every probe outcome the prober decides (reply, timeout,
 * late reply; see probe/prober.ts ProbeRecorder), served incrementally on the control socket as
 * `GET /probes?since=N[&log=ID][&limit=N]` so a reader (the scenario runner, a collector) can keep every
 * probe without the agent keeping history.
 *
 * Rows are numbered from 0 for the life of one log (one agent process); the ring keeps the newest
 * {@link PROBE_LOG_ROWS}. A reader asks for rows from its cursor `since` and gets back `next` (its new
 * cursor) and `dropped`: rows from `since` on that the ring overwrote before they were read, so a slow
 * reader knows what it missed instead of silently seeing fewer probes. `log` is a random id of this log:
 * a reader passing the id it had gets rows from 0 when the agent restarted (the ids differ), rather than
 * waiting for the new process to reach its old cursor.
 *
 * Cost: at 10 ms probes on several paths the ring takes hundreds of rows a second, so rows live in
 * preallocated typed-array columns (≈ 38 bytes a row, 2.5 MB for 65 536 rows) and recording one is a few
 * stores, no allocation; the reply is columnar JSON (one array per column, no per-row objects or keys).
 *
 * Example:
 *   const log = new ProbeLog(); log.setPeers([{ id: 1, peerNode: 'edge2' }]);
 *   log.record(1, 7, 1_700_000_000_000, 12.5, 6.1, 6.4, 0);
 *   log.read(0)   // → { log: '…', next: 1, dropped: 0, total: 1, count: 1, peers: ['edge2'], columns: { pathId: [1], peer: [0], seq: [7], … } }
 */
import { randomBytes } from 'node:crypto';
import { PROBE_LATE, PROBE_LOST, PROBE_REORDERED, type ProbeRecorder } from '../probe/index.ts';

/** Rows the ring keeps by default: 65 536 (≈ 80 s of 8 paths probed every 10 ms). */
export const PROBE_LOG_ROWS = 65_536;

/**
 * Rows one `GET /probes` serves when the reader names no `limit`: building and serialising a row costs a
 * few µs, so a page of 4096 stays around 20–30 ms of the agent's event loop where the whole ring would
 * block it for half a second; a reader that is behind asks again from `next` while `next < total`.
 */
export const PROBE_PAGE_ROWS = 4096;

/** What `GET /probes` answers: columns of `count` rows, row i of every column belonging together. */
export interface ProbeLogPage {
  /** This log's id (random per agent process); pass it back as `log` to detect a restart. */
  log: string;
  /** The reader's next cursor (`since` of the next request): number of the row after the last one served. */
  next: number;
  /** Rows from `since` on the ring overwrote before this read (lost telemetry; 0 when nothing was missed). */
  dropped: number;
  /** Rows recorded since the log started. */
  total: number;
  /** The agent clock when the page was read (ms since the Unix epoch), to map `sentMs` to a reader's clock. */
  nowMs: number;
  count: number;
  /** Peer node names; the `peer` column holds indexes into this list. */
  peers: string[];
  columns: {
    pathId: number[];
    peer: number[];
    seq: number[];
    /** Agent clock when the probe left, ms since the Unix epoch (µs resolution). */
    sentMs: number[];
    /** Round-trip time, ms (reflector hold time taken out); null for a lost probe. */
    rttMs: (number | null)[];
    /** Reflector receive − send and receive − reflector transmit, ms, each including the two clocks' offset; null when lost. */
    fwdMs: (number | null)[];
    revMs: (number | null)[];
    lost: boolean[];
    /** A reply after its probe was counted lost (an earlier row of the same seq has `lost`). */
    late: boolean[];
    reordered: boolean[];
  };
}

/** Round to µs: the wire's resolution, and shorter JSON. NaN (no value) becomes null. */
const us = (x: number): number | null => (Number.isNaN(x) ? null : Math.round(x * 1000) / 1000);

/** The ring; a {@link ProbeRecorder} for the prober. See the module comment. */
export class ProbeLog implements ProbeRecorder {
  readonly id = randomBytes(6).toString('hex');
  readonly capacity: number;
  private readonly pathId: Uint16Array;
  private readonly peer: Uint16Array;
  private readonly seq: Uint32Array;
  private readonly sent: Float64Array;
  private readonly rtt: Float64Array;
  private readonly fwd: Float64Array;
  private readonly rev: Float64Array;
  private readonly flags: Uint8Array;
  private total = 0;
  /** Interned peer names (indexes are stable for the log's life) and the current path → peer index. */
  private readonly peerNames: string[] = [];
  private readonly peerIdx = new Map<string, number>();
  private readonly pathPeer = new Map<number, number>();

  /** @param capacity rows kept (default {@link PROBE_LOG_ROWS}); at least 1. */
  constructor(capacity = PROBE_LOG_ROWS, private readonly now: () => number = Date.now) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`probe log capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    this.pathId = new Uint16Array(capacity);
    this.peer = new Uint16Array(capacity);
    this.seq = new Uint32Array(capacity);
    this.sent = new Float64Array(capacity);
    this.rtt = new Float64Array(capacity);
    this.fwd = new Float64Array(capacity);
    this.rev = new Float64Array(capacity);
    this.flags = new Uint8Array(capacity);
  }

  /** The peers of a bundle's paths (path id → peer node); rows recorded from now on carry them. */
  setPeers(paths: readonly { id: number; peerNode: string }[]): void {
    this.pathPeer.clear();
    for (const p of paths) {
      let i = this.peerIdx.get(p.peerNode);
      if (i === undefined) { i = this.peerNames.length; this.peerNames.push(p.peerNode); this.peerIdx.set(p.peerNode, i); }
      this.pathPeer.set(p.id, i);
    }
  }

  /** Rows recorded since the log started. */
  get recorded(): number {
    return this.total;
  }

  record(pathId: number, seq: number, sentMs: number, rttMs: number, fwdMs: number, revMs: number, flags: number): void {
    const i = this.total % this.capacity;
    this.pathId[i] = pathId;
    // 0xffff: a path no bundle named (served as peer null).
    this.peer[i] = this.pathPeer.get(pathId) ?? 0xffff;
    this.seq[i] = seq;
    this.sent[i] = sentMs;
    this.rtt[i] = rttMs;
    this.fwd[i] = fwdMs;
    this.rev[i] = revMs;
    this.flags[i] = flags;
    this.total++;
  }

  /**
   * Rows from row number `since` on, at most `limit` (default: the whole ring). `since` beyond the rows
   * recorded, or a `log` id that is not this log's (the agent restarted), reads from row 0.
   */
  read(since: number, limit = this.capacity, log?: string): ProbeLogPage {
    let from = Number.isFinite(since) && since > 0 ? Math.floor(since) : 0;
    if (from > this.total || (log !== undefined && log !== this.id)) from = 0;
    const oldest = Math.max(0, this.total - this.capacity);
    const dropped = Math.max(0, oldest - from);
    const start = Math.max(from, oldest);
    const end = Math.min(this.total, start + Math.max(0, Math.floor(limit)));
    const n = end - start;
    const c: ProbeLogPage['columns'] = {
      pathId: new Array(n), peer: new Array(n), seq: new Array(n), sentMs: new Array(n), rttMs: new Array(n), fwdMs: new Array(n), revMs: new Array(n),
      lost: new Array(n), late: new Array(n), reordered: new Array(n),
    };
    for (let k = 0; k < n; k++) {
      const i = (start + k) % this.capacity;
      const f = this.flags[i]!;
      c.pathId[k] = this.pathId[i]!;
      c.peer[k] = this.peer[i] === 0xffff ? -1 : this.peer[i]!;
      c.seq[k] = this.seq[i]!;
      c.sentMs[k] = Math.round(this.sent[i]! * 1000) / 1000;
      c.rttMs[k] = us(this.rtt[i]!);
      c.fwdMs[k] = us(this.fwd[i]!);
      c.revMs[k] = us(this.rev[i]!);
      c.lost[k] = (f & PROBE_LOST) !== 0;
      c.late[k] = (f & PROBE_LATE) !== 0;
      c.reordered[k] = (f & PROBE_REORDERED) !== 0;
    }
    return { log: this.id, next: end, dropped, total: this.total, nowMs: this.now(), count: n, peers: [...this.peerNames], columns: c };
  }
}

/**
 * Parse the query of `GET /probes` (`since`, `limit`, `log`); undefined values for absent keys.
 * Example: `probeQuery('/probes?since=120&log=ab12')` → `{since: 120, limit: undefined, log: 'ab12'}`.
 * @throws RangeError naming the key when `since` or `limit` is not a non-negative integer.
 */
export function probeQuery(url: string): { since: number; limit: number | undefined; log: string | undefined } {
  const q = new URL(url, 'http://agent').searchParams;
  const int = (k: string): number | undefined => {
    const v = q.get(k);
    if (v === null) return undefined;
    if (!/^\d+$/.test(v)) throw new RangeError(`/probes: ${k} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return Number(v);
  };
  return { since: int('since') ?? 0, limit: int('limit'), log: q.get('log') ?? undefined };
}

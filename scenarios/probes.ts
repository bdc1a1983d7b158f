/**
 * Raw probe results into a run: the runner pulls each edge agent's probe log (`GET /probes`,
 * dataplane/agent/probe-log.ts) every 500 ms from its own cursor and turns each page into rows of the
 * `probes` table (docs/telemetry.md). Rows the agent's ring overwrote before they were pulled are counted
 * per edge (`dropped`), and end up in the run's trust record (overload `probe_rows_dropped`).
 *
 * Times: a probe's send time is the agent's clock; the runner maps it to its own clock with the offset
 * seen at each pull (runner wall time at the middle of the request − the agent's `nowMs`), so a skewed
 * agent clock (the twin's `--clock-offset`) does not shift the rows, then makes it relative to t0. The
 * error of that mapping is at most half the request's round trip.
 *
 * Example:
 *   const pull = new ProbePuller(runId, (node, q) => agentRequest(sock(node), 'GET', `/probes?${q}`, undefined, 2000).then((r) => r.body));
 *   await pull.mark('edge1');            // before traffic: rows from here on belong to the run
 *   await pull.pull('edge1', t0, names); // every 500 ms; pull.rows holds the table rows
 */
import type { ProbeLogPage } from '../dataplane/index.ts';
import type { Row } from './store.ts';

const wallMs = (): number => performance.timeOrigin + performance.now();

/**
 * The probes rows of one page. `offsetMs` maps the agent clock to the runner's (runner = agent + offset),
 * `t0` is the run's t0 on the runner's clock (Unix ms), `transport` names a path id's transport (NULL when
 * unknown). Example: a page row sent at agent time 1000 with offset 5 and t0 900 → `t_ms` 105.
 */
export function probeRows(runId: string, node: string, page: ProbeLogPage, offsetMs: number, t0: number, transport: (pathId: number) => string | undefined = () => undefined): Row[] {
  const c = page.columns;
  const out: Row[] = new Array(page.count);
  for (let i = 0; i < page.count; i++) {
    const peer = c.peer[i]!;
    out[i] = {
      run_id: runId, t_ms: c.sentMs[i]! + offsetMs - t0, node, path_id: c.pathId[i]!, peer: peer >= 0 ? page.peers[peer] ?? null : null,
      transport: transport(c.pathId[i]!) ?? null, seq: c.seq[i]!, rtt_ms: c.rttMs[i] ?? null, fwd_ms: c.fwdMs[i] ?? null, rev_ms: c.revMs[i] ?? null,
      lost: c.lost[i]!, late: c.late[i]!, reordered: c.reordered[i]!,
    };
  }
  return out;
}

/** Fetches one page of an edge's probe log; `query` is the URL query (`since=N&log=ID`). Resolves undefined when the agent does not answer. */
export type ProbeFetch = (node: string, query: string) => Promise<ProbeLogPage | undefined>;

/** Per-edge cursors and the rows pulled so far; see the module comment. */
export class ProbePuller {
  /** Every row pulled, in pull order. */
  readonly rows: Row[] = [];
  /** Per edge: rows the agent's ring overwrote before they were pulled. */
  readonly dropped = new Map<string, number>();
  /** Per edge: pulls that got no answer (the agent was down or busy): rows are not lost by that, only late. */
  readonly failed = new Map<string, number>();
  private readonly cursor = new Map<string, { log: string; next: number }>();

  constructor(private readonly runId: string, private readonly fetch: ProbeFetch) {}

  /** Start `node`'s cursor at the rows recorded so far (they predate the run); false when the agent did not answer. */
  async mark(node: string): Promise<boolean> {
    const p = await this.get(node, 'since=0&limit=0');
    if (!p) return false;
    this.cursor.set(node, { log: p.log, next: p.total });
    this.dropped.set(node, this.dropped.get(node) ?? 0);
    return true;
  }

  /**
   * Pull `node`'s rows since its cursor (all of them when the node has none yet) into {@link rows}, page
   * after page (the agent serves a bounded page) until it has caught up, at most `maxPages`.
   */
  async pull(node: string, t0: number, transport?: (pathId: number) => string | undefined, maxPages = 64): Promise<void> {
    for (let i = 0; i < maxPages; i++) {
      const c = this.cursor.get(node);
      const before = wallMs();
      const p = await this.get(node, c ? `since=${c.next}&log=${c.log}` : 'since=0');
      if (!p) return;
      const offset = (before + wallMs()) / 2 - p.nowMs;
      this.cursor.set(node, { log: p.log, next: p.next });
      this.dropped.set(node, (this.dropped.get(node) ?? 0) + p.dropped);
      const rows = probeRows(this.runId, node, p, offset, t0, transport);
      for (const r of rows) this.rows.push(r);
      if (p.next >= p.total || p.count === 0) return;
    }
  }

  private async get(node: string, q: string): Promise<ProbeLogPage | undefined> {
    let p: ProbeLogPage | undefined;
    try { p = await this.fetch(node, q); } catch { p = undefined; }
    if (!p || !p.columns) { this.failed.set(node, (this.failed.get(node) ?? 0) + 1); return undefined; }
    return p;
  }
}

/**
 * What happens to existing flows when steering changes — the rule the data plane's flow map will follow:
 * a flow stays on its path while that path is in its entry's `keep` set (the candidates still complying);
 * a flow whose path stopped complying or went down moves at once to the entry's current selection; new
 * flows take the current selection (load-balance: weighted by a stable hash of the flow key). Duplicate,
 * drop and per-packet entries pin nothing (their `keep` is empty). In best-of-worst, keep is the chosen path.
 */
import type { SteeringEntry } from './steer.ts';

/** A flow move made by {@link FlowTable.reconcile}; `to` undefined means the flow is dropped. */
export interface FlowMove {
  flow: string;
  from: number;
  to?: number;
  cause: string;
}

/** FNV-1a, for a stable weighted choice per flow key. */
function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return h >>> 0;
}

/** Pick a path for a new flow from an entry (weighted for load-balance); undefined when the entry drops. */
export function pickPath(entry: SteeringEntry, flow: string): number | undefined {
  if (entry.pathIds.length === 0) return undefined;
  if (entry.mode !== 'load-balance') return entry.pathIds[0];
  const total = entry.weights.reduce((a, b) => a + b, 0);
  let x = hash32(flow) % total;
  for (let i = 0; i < entry.pathIds.length; i++) { x -= entry.weights[i]!; if (x < 0) return entry.pathIds[i]; }
  return entry.pathIds[entry.pathIds.length - 1];
}

const entryKey = (e: Pick<SteeringEntry, 'segment' | 'appClass' | 'site'>) => `${e.segment}\0${e.appClass}\0${e.site}`;

/**
 * Pinned flows per steering entry. Example: `ft.assign('10.1.0.5:5060>10.2.0.9:5060/udp', entry)` returns
 * the path; after the next evaluation `ft.reconcile(table)` lists the flows that had to move.
 */
export class FlowTable {
  private flows = new Map<string, { key: string; path: number }>();

  /** The path for a flow's next packet; pins it for a new flow (undefined: drop, or not pinned). */
  assign(flow: string, entry: SteeringEntry): number | undefined {
    if (entry.keep.length === 0) return pickPath(entry, flow);
    const f = this.flows.get(flow);
    if (f && f.key === entryKey(entry) && entry.keep.includes(f.path)) return f.path;
    const p = pickPath(entry, flow);
    if (p === undefined) this.flows.delete(flow);
    else this.flows.set(flow, { key: entryKey(entry), path: p });
    return p;
  }

  /** Apply a new table to every pinned flow; returns the moves (flows on still-compliant paths stay). */
  reconcile(table: readonly SteeringEntry[]): FlowMove[] {
    const byKey = new Map(table.map((e) => [entryKey(e), e]));
    const moves: FlowMove[] = [];
    for (const [flow, f] of this.flows) {
      const e = byKey.get(f.key);
      if (!e) { this.flows.delete(flow); continue; }
      if (e.keep.includes(f.path)) continue;
      const to = pickPath(e, flow);
      const cause = e.mode === 'drop' ? 'no path may carry this class' : `path ${f.path} no longer complies`;
      if (to === undefined) this.flows.delete(flow);
      else this.flows.set(flow, { key: f.key, path: to });
      moves.push({ flow, from: f.path, ...(to !== undefined && { to }), cause });
    }
    return moves;
  }

  /** The path a flow is pinned to, if any. */
  pathOf(flow: string): number | undefined {
    return this.flows.get(flow)?.path;
  }

  get size(): number {
    return this.flows.size;
  }
}

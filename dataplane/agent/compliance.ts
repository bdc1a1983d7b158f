/**
 * Per-SLA-class compliance of an edge, what its health report carries and the promotion's soak gate judges
 * (docs/promotion.md): the fraction of recent sample intervals in which each class's current path met the
 * class. Pure — the path supervisor feeds it the steering table and the path views on every probe interval.
 */
import type { Bundle } from '../bundle/schema.ts';
import type { SteeringEntry } from '../steer/index.ts';

/** How far back compliance looks (ms). */
export const COMPLIANCE_WINDOW_MS = 60_000;
/** A destination's samples count once its class was first met, or at the latest this long (ms) after a bundle load. */
export const COMPLIANCE_WARMUP_MS = 10_000;
/** Width of one counting bucket (ms); the window slides by whole buckets. */
const BUCKET_MS = 1000;

/** One SLA class's figure: `compliance` 0..1 over `samples` (destination × interval) samples in the window. */
export interface ClassCompliance { compliance: number; samples: number }

/**
 * What the health report sends. `slaCompliance` is the worst class (null when no class has samples yet);
 * `classes` holds every class with samples.
 */
export interface SlaCompliance { windowMs: number; slaCompliance: number | null; classes: Record<string, ClassCompliance> }

interface Bucket { at: number; ok: number; total: number }

/**
 * Sample-based SLA compliance. Each call to {@link sample} is one interval: for every steering entry whose rule
 * names an SLA class (one per destination site and rule), the interval is compliant when the paths new flows take
 * meet the class — at least one of them for `duplicate` (either copy arrives), every one otherwise — and not
 * compliant when the entry has no path at all. Until a destination's class was first met (paths still coming up
 * after an apply) its intervals are not counted, for at most {@link COMPLIANCE_WARMUP_MS} after the bundle load.
 * @example
 * const t = new ComplianceTracker(); t.reset(bundle.rules, 0);
 * t.sample(100, steering, (id) => views.get(id)?.compliant);  // every probe interval
 * t.report(100)  // { windowMs: 60000, slaCompliance: 1, classes: { voice: { compliance: 1, samples: 1 } } }
 */
export class ComplianceTracker {
  private slaOf = new Map<string, string>();
  private loadedAt = 0;
  private started = new Set<string>();
  private buckets = new Map<string, Bucket[]>();

  /** Starts afresh for a newly loaded bundle's rules at `now` (ms): the old bundle's figures say nothing about it. */
  reset(rules: readonly Bundle['rules'][number][], now: number): void {
    this.slaOf = new Map(rules.filter((r) => r.slaClass !== undefined).map((r) => [`${r.segment}/${r.name}`, r.slaClass!]));
    this.loadedAt = now;
    this.started.clear();
    this.buckets.clear();
  }

  /** One interval at `now` (ms). `compliantOf(pathId)`: the SLA classes that path meets now (undefined: unknown path). */
  sample(now: number, table: readonly SteeringEntry[], compliantOf: (pathId: number) => ReadonlySet<string> | undefined): void {
    for (const e of table) {
      const cls = this.slaOf.get(`${e.segment}/${e.rule}`);
      if (cls === undefined) continue;
      const meets = (id: number) => compliantOf(id)?.has(cls) ?? false;
      const ok = e.pathIds.length > 0 && (e.mode === 'duplicate' ? e.pathIds.some(meets) : e.pathIds.every(meets));
      const key = `${e.segment}/${e.rule}/${e.site}`;
      if (!this.started.has(key)) {
        if (!ok && now - this.loadedAt < COMPLIANCE_WARMUP_MS) continue;
        this.started.add(key);
      }
      this.count(cls, now, ok);
    }
  }

  private count(cls: string, now: number, ok: boolean): void {
    const at = Math.floor(now / BUCKET_MS) * BUCKET_MS;
    let list = this.buckets.get(cls);
    if (!list) this.buckets.set(cls, (list = []));
    let last = list[list.length - 1];
    if (!last || last.at !== at) list.push((last = { at, ok: 0, total: 0 }));
    last.total++;
    if (ok) last.ok++;
    while (list.length && list[0]!.at <= now - COMPLIANCE_WINDOW_MS) list.shift();
  }

  /** The figures over the window ending at `now` (ms). */
  report(now: number): SlaCompliance {
    const classes: Record<string, ClassCompliance> = {};
    for (const [cls, list] of [...this.buckets].sort(([a], [b]) => (a < b ? -1 : 1))) {
      let ok = 0, total = 0;
      for (const b of list) if (b.at > now - COMPLIANCE_WINDOW_MS) { ok += b.ok; total += b.total; }
      if (total) classes[cls] = { compliance: ok / total, samples: total };
    }
    const figures = Object.values(classes).map((c) => c.compliance);
    return { windowMs: COMPLIANCE_WINDOW_MS, slaCompliance: figures.length ? Math.min(...figures) : null, classes };
  }
}

/**
 * Steering decisions: for every (segment, application class, remote site) the paths new traffic takes,
 * from the path states ({@link PathView}), the bundle's rules and SLA classes, and a {@link SteerPolicy}.
 *
 * Strategies (BundleRule.strategy):
 * - `preference`: the first compliant path in the rule's transport order (then role, then id). Traffic
 *   fails back to a more preferred path only after it stayed eligible for failbackHoldMs.
 * - `best-quality`: the compliant path with the best score; another path wins only by `betterBy` points.
 * - `load-balance`: every compliant path, weighted by score.
 * - `duplicate`: the two best compliant paths; the receiver drops the second copy.
 * When no path complies, the SLA class decides: `strict-drop` (mode drop, no paths) or `best-of-worst`
 * (the best alive path(s) by score); both raise an event. A rule without an SLA class needs liveness only.
 *
 * Hysteresis: a selection whose paths still comply is kept at least minDwellMs; a selection with a path that
 * stopped complying (or went down) changes at once. Flows: see {@link SteeringEntry.keep} and flows.ts.
 */
import type { z } from 'zod';
import type { BundlePath, BundleRule, BundleSlaClass } from '../bundle/schema.ts';
import type { PathView } from '../probe/path-state.ts';
import { scorePath } from './score.ts';
import { DEFAULT_STEER_POLICY, type SteerPolicy } from './policy.ts';

export type Strategy = z.output<typeof BundleRule>['strategy'];
/** A bundle rule (intent `rules[].paths.strategy` compiled as is). */
export type SteerRule = z.output<typeof BundleRule>;
export type SlaClass = z.output<typeof BundleSlaClass>;

/** The parts of a bundle steering reads. */
export interface SteerInput {
  paths: BundlePath[];
  rules: SteerRule[];
  slaClasses: SlaClass[];
}

/** `drop`: nothing complies under strict-drop, or every path is down. */
export type SteerMode = 'preference' | 'best-quality' | 'load-balance' | 'duplicate' | 'best-of-worst' | 'drop';

/** One row of the steering table. */
export interface SteeringEntry {
  segment: string;
  appClass: string;
  site: string;
  rule: string;
  mode: SteerMode;
  /** Paths for new flows (duplicate: every packet goes on all of them). */
  pathIds: number[];
  /** load-balance: relative weights, same order as pathIds; otherwise all 1. */
  weights: number[];
  /**
   * Paths on which existing flows may stay: the candidates that still comply. A flow on any other path
   * moves to pathIds at once. Empty for per-packet rules (nothing is pinned).
   */
  keep: number[];
  /** When this selection was made, ms. */
  since: number;
}

/** A steering change. */
export interface SteerEvent {
  at: number;
  segment: string;
  appClass: string;
  site: string;
  from: number[];
  to: number[];
  fromMode?: SteerMode;
  mode: SteerMode;
  cause: string;
}

interface KeyState { entry?: SteeringEntry; goodSince: Map<number, number> }

const ROLE_RANK = { active: 0, backup: 1, 'last-resort': 2 } as const;
const same = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The steering engine. Call `evaluate(at, views)` whenever path states change (and periodically, so
 * hold-down and dwell timers can expire); it returns the whole table and the changes since last time.
 *
 * Example: `new Steerer(bundle, {minDwellMs: 5000}).evaluate(now, monitors.map((m) => m.view(now)))`.
 */
export class Steerer {
  readonly policy: SteerPolicy;
  private keys = new Map<string, KeyState>();
  private readonly sla: Map<string, SlaClass>;

  constructor(readonly input: SteerInput, policy: Partial<SteerPolicy> = {}) {
    this.policy = { ...DEFAULT_STEER_POLICY, ...policy };
    this.sla = new Map(input.slaClasses.map((s) => [s.name, s]));
  }

  /** The (segment, appClass) pairs to steer: the first rule for each pair wins, as in classification. */
  private ruleList(): SteerRule[] {
    const seen = new Set<string>();
    return this.input.rules.filter((r) => {
      const k = `${r.segment}\0${r.appClass}`;
      if (seen.has(k)) return false;
      seen.add(k);
      return r.service === 'overlay';
    });
  }

  evaluate(at: number, views: readonly PathView[]): { table: SteeringEntry[]; events: SteerEvent[] } {
    const byId = new Map(views.map((v) => [v.id, v]));
    const sites = [...new Set(this.input.paths.map((p) => p.peerSite))].sort();
    const table: SteeringEntry[] = [];
    const events: SteerEvent[] = [];
    for (const rule of this.ruleList()) {
      for (const site of sites) {
        const key = `${rule.segment}\0${rule.appClass}\0${site}`;
        let st = this.keys.get(key);
        if (!st) { st = { goodSince: new Map() }; this.keys.set(key, st); }
        const { entry, event } = this.decide(at, rule, site, st, byId);
        st.entry = entry;
        table.push(entry);
        if (event) events.push(event);
      }
    }
    return { table, events };
  }

  /** The table as last evaluated. */
  table(): SteeringEntry[] {
    return [...this.keys.values()].flatMap((s) => (s.entry ? [s.entry] : []));
  }

  private candidates(rule: SteerRule, site: string): BundlePath[] {
    const order = (t: string) => { const i = rule.preferred.indexOf(t); return i < 0 ? rule.preferred.length : i; };
    return this.input.paths
      .filter((p) => p.peerSite === site && (rule.preferred.length === 0 || rule.preferred.includes(p.transport)))
      .sort((a, b) => order(a.transport) - order(b.transport) || ROLE_RANK[a.role] - ROLE_RANK[b.role] || a.id - b.id);
  }

  private decide(at: number, rule: SteerRule, site: string, st: KeyState, views: Map<number, PathView>): { entry: SteeringEntry; event?: SteerEvent } {
    const pol = this.policy;
    const sla = rule.slaClass !== undefined ? this.sla.get(rule.slaClass) : undefined;
    const cands = this.candidates(rule, site);
    const score = new Map<number, number>();
    const alive = (id: number) => { const v = views.get(id); return v !== undefined && v.state !== 'down'; };
    const complies = (id: number) => alive(id) && (sla ? views.get(id)!.compliant.has(sla.name) : true);
    for (const p of cands) {
      const v = views.get(p.id);
      score.set(p.id, v ? scorePath(v.metrics, v.state === 'down') : 0);
    }
    const sc = (id: number) => score.get(id) ?? 0;
    // stayOk: may keep traffic it already has. enterOk: may win traffic (held good for failbackHold).
    const stayOk = (id: number) => complies(id) && sc(id) >= pol.failoverScore;
    for (const p of cands) {
      // The failback timer restarts on any dip: non-compliance or a score under failbackScore.
      if (stayOk(p.id) && sc(p.id) >= pol.failbackScore) { if (!st.goodSince.has(p.id)) st.goodSince.set(p.id, at); }
      else st.goodSince.delete(p.id);
    }
    const fresh = st.entry === undefined;
    const enterOk = (id: number) => { const g = st.goodSince.get(id); return g !== undefined && (fresh || at - g >= pol.failbackHoldMs); };

    const cur = st.entry;
    const curCompliantMode = cur !== undefined && cur.mode !== 'best-of-worst' && cur.mode !== 'drop';
    const curOk = curCompliantMode && cur.pathIds.length > 0 && cur.pathIds.every(stayOk);
    const dwelt = cur === undefined || at - cur.since >= pol.minDwellMs;
    const ids = cands.map((p) => p.id);
    const byScore = (xs: number[]) => [...xs].sort((a, b) => sc(b) - sc(a) || ids.indexOf(a) - ids.indexOf(b));
    const entering = ids.filter(enterOk);
    const staying = ids.filter(stayOk);
    const pool = entering.length ? entering : staying;

    let mode: SteerMode = rule.strategy;
    let pick: number[] = [];
    let weights: number[] | undefined;
    let cause = '';

    if (curOk && !dwelt) {
      pick = cur.pathIds;
      weights = cur.weights;
    } else if (rule.strategy === 'preference') {
      if (curOk) {
        const c = cur.pathIds[0]!;
        const better = entering.find((id) => ids.indexOf(id) < ids.indexOf(c));
        pick = [better ?? c];
        if (better !== undefined) cause = `path ${better} is more preferred and held good for ${pol.failbackHoldMs} ms`;
      } else if (pool.length) pick = [pool[0]!];
    } else if (rule.strategy === 'best-quality') {
      if (curOk) {
        const c = cur.pathIds[0]!;
        const best = byScore(entering)[0];
        pick = [best !== undefined && sc(best) > sc(c) + pol.betterBy ? best : c];
        if (pick[0] !== c) cause = `path ${pick[0]} scores ${sc(pick[0]!).toFixed(1)} vs ${sc(c).toFixed(1)}`;
      } else if (pool.length) pick = [byScore(pool)[0]!];
    } else if (rule.strategy === 'load-balance') {
      const set = ids.filter((id) => (cur?.pathIds.includes(id) && stayOk(id)) || enterOk(id));
      pick = set.length ? set : staying;
      weights = pick.map((id) => Math.max(1, Math.round(sc(id))));
      if (curOk && same(pick, cur.pathIds)) weights = cur.weights;
    } else {
      const keepers = curOk ? cur.pathIds : (cur?.pathIds ?? []).filter(stayOk);
      let pair = byScore([...new Set([...keepers, ...pool])]).slice(0, 2);
      if (curOk && cur.pathIds.length === 2) {
        // Replace a healthy member only for a clear gain, so duplicate pairs do not churn.
        const worst = byScore(cur.pathIds)[1]!;
        const challenger = byScore(entering.filter((id) => !cur.pathIds.includes(id)))[0];
        pair = challenger !== undefined && sc(challenger) > sc(worst) + pol.betterBy ? byScore([byScore(cur.pathIds)[0]!, challenger]) : cur.pathIds;
      }
      pick = pair;
    }

    if (pick.length === 0) {
      const living = byScore(ids.filter(alive));
      const fallback = sla?.fallback ?? 'best-of-worst';
      if (fallback === 'strict-drop' || living.length === 0) {
        mode = 'drop';
        cause = living.length === 0 ? 'every path is down' : `no path meets SLA class ${sla!.name}: strict-drop`;
      } else {
        mode = 'best-of-worst';
        const n = rule.strategy === 'duplicate' ? 2 : 1;
        const prev = cur?.mode === 'best-of-worst' ? cur.pathIds.filter(alive) : [];
        const bestNow = living.slice(0, n);
        // Among non-compliant paths, move only for a clear gain too.
        const keepPrev = prev.length === Math.min(n, living.length) && sc(bestNow[0]!) <= Math.min(...prev.map(sc)) + pol.betterBy;
        pick = keepPrev ? prev : bestNow;
        cause = `no path meets SLA class ${sla?.name ?? '(none)'}: best of the rest`;
      }
    }

    const keep = rule.perPacket || mode === 'duplicate' ? [] : mode === 'best-of-worst' ? pick : mode === 'drop' ? [] : staying;
    const changed = !cur || cur.mode !== mode || !same(cur.pathIds, pick);
    const entry: SteeringEntry = {
      segment: rule.segment, appClass: rule.appClass, site, rule: rule.name, mode,
      pathIds: pick, weights: weights ?? pick.map(() => 1), keep, since: changed ? at : cur!.since,
    };
    if (!changed) return { entry };
    if (!cause) {
      const lost = (cur?.pathIds ?? []).filter((id) => !stayOk(id));
      if (!cur) cause = 'initial selection';
      else if (lost.length) cause = lost.map((id) => `path ${id} ${!alive(id) ? 'is down' : sla && !complies(id) ? `violates ${sla.name}` : `scores ${sc(id).toFixed(1)} < ${pol.failoverScore}`}`).join(', ');
      else cause = pick.some((id) => !cur.pathIds.includes(id)) ? `path ${pick.filter((id) => !cur.pathIds.includes(id)).join(', ')} eligible` : 'selection changed';
    }
    const event: SteerEvent = {
      at, segment: rule.segment, appClass: rule.appClass, site, from: cur?.pathIds ?? [], to: pick, mode, cause,
      ...(cur && { fromMode: cur.mode }),
    };
    return { entry, event };
  }
}

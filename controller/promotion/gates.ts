/** The soak's health gates as one pure function, so the gate actor and tests share the judgement. */
import type { EdgeHealth, GateOptions } from './types.ts';

/**
 * Judges the gates on `health` of edges that should run `version` at time `now` (ms).
 * Gates: the edge still runs the version (an edge that reverted by itself — commit-confirmed — fails it),
 * it does not call itself unhealthy, it was seen within `gates.maxSilenceMs`, and its SLA compliance, when it
 * reports one, is at least `gates.minSlaCompliance`.
 * @returns null when every gate passes, else one line naming each failing edge and why.
 * @example evaluateGates([{ edge: 'e1', appliedVersion: 2, healthy: true, slaCompliance: 0.9, lastSeen: 0, detail: null }], 2, { minSlaCompliance: 0.99, maxSilenceMs: 60_000 }, 1000)
 *   // 'e1: SLA compliance 90.0% < 99.0%'; with slaClasses { voice: 0.9, bulk: 1 }: '… < 99.0% (class voice 90.0%)'
 */
export function evaluateGates(health: readonly EdgeHealth[], version: number, gates: GateOptions, now: number): string | null {
  const bad: string[] = [];
  for (const h of health) {
    const why: string[] = [];
    if (h.appliedVersion !== version) why.push(`runs version ${h.appliedVersion ?? 'none'}, not ${version}`);
    if (h.healthy === false) why.push(`reports unhealthy${h.detail ? ` (${h.detail})` : ''}`);
    if (h.lastSeen === null) why.push('never seen');
    else if (now - h.lastSeen > gates.maxSilenceMs) why.push(`silent for ${Math.round((now - h.lastSeen) / 1000)} s`);
    if (h.slaCompliance !== null && h.slaCompliance < gates.minSlaCompliance) {
      const low = Object.entries(h.slaClasses ?? {}).filter(([, c]) => c < gates.minSlaCompliance).sort((a, b) => a[1] - b[1]);
      why.push(`SLA compliance ${pct(h.slaCompliance)} < ${pct(gates.minSlaCompliance)}${low.length ? ` (${low.map(([k, c]) => `class ${k} ${pct(c)}`).join(', ')})` : ''}`);
    }
    if (why.length) bad.push(`${h.edge}: ${why.join(', ')}`);
  }
  return bad.length ? bad.join('; ') : null;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

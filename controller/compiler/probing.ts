/**
 * The bundle's `probing` section: the intent's probing/steering tuning renamed to the bundle's units (ms),
 * plus the probe budget of every transport this edge has a WAN interface on. Absent (undefined) when the
 * intent sets neither, so bundles of intents without tuning stay as they were.
 */
import type { BundleProbing } from '../../dataplane/bundle/index.ts';
import type { Intent } from '../intent/index.ts';

type Tuning = NonNullable<Intent['probing']>;
type TransportTuning = NonNullable<Tuning['transports']>[string];

const TUNING: [keyof TransportTuning, keyof BundleProbing][] = [
  ['interval', 'intervalMs'], ['idleInterval', 'idleIntervalMs'], ['downAfter', 'downAfter'], ['holdDown', 'holdDownMs'],
  ['timeoutFloor', 'timeoutFloorMs'], ['timeoutCeiling', 'timeoutCeilingMs'], ['minOutage', 'minOutageMs'],
];
const STEERING: [keyof Tuning, keyof BundleProbing][] = [
  ['lossWindow', 'lossWindowMs'], ['passive', 'passive'], ['failbackHold', 'failbackHoldMs'], ['minDwell', 'minDwellMs'],
  ['failoverScore', 'failoverScore'], ['failbackScore', 'failbackScore'], ['betterBy', 'betterBy'],
];

function pick(src: Record<string, unknown>, table: [string, string][]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [from, to] of table) if (src[from] !== undefined) out[to] = src[from];
  return out;
}

/**
 * Example: intent `probing: {interval: 50ms, transports: {lte: {interval: 1s}}}` and an lte transport with
 * `probeBudget: 16kbit` → `{intervalMs: 50, transports: {lte: {intervalMs: 1000}}, budgets: {lte: 16000}}`
 * for an edge with an lte interface. Only the transports the edge uses are carried.
 */
export function buildProbing(intent: Intent, edgeTransports: readonly string[]): BundleProbing | undefined {
  const p = intent.probing;
  const used = [...new Set(edgeTransports)].sort();
  const out: BundleProbing = { ...pick(p ?? {}, TUNING), ...pick(p ?? {}, STEERING) };
  const transports: NonNullable<BundleProbing['transports']> = {};
  for (const t of used) {
    const o = p?.transports?.[t];
    if (o) transports[t] = pick(o, TUNING);
  }
  if (Object.keys(transports).length) out.transports = transports;
  const budgets: Record<string, number> = {};
  for (const t of used) {
    const b = intent.transports[t]?.probeBudget;
    if (b !== undefined) budgets[t] = b;
  }
  if (Object.keys(budgets).length) out.budgets = budgets;
  return Object.keys(out).length ? out : undefined;
}

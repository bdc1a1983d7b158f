/**
 * The impairment parameter model: a lab `Impair` (one direction) as the delay line's parameters, and the
 * numbers calibration compares measurements with (expected mean loss, mean loss-burst length).
 */
import type { Impair, ImpairStep, LossModel } from '../lab/schema.ts';

/** Default buffer depth of a rate limit when the lab gives none (ms at the configured rate). */
export const DEFAULT_BUFFER_MS = 50;

/** One direction's state as the delay line holds it. Units: ns, bit/s, bytes. */
export interface LineParams {
  delayNs: number;
  jitterNs: number;
  loss: { kind: 'none' } | { kind: 'uniform'; p: number } | { kind: 'ge'; p: number; r: number; lossGood: number; lossBad: number };
  down: boolean;
  /** 0: no rate limit. */
  rateBps: number;
  /** TBF queue limit in bytes (0 when there is no rate). */
  bufferBytes: number;
}

/** Loss model → the delay line's form. `0.05` → uniform 5 %. */
export function lossParams(loss: LossModel | undefined): LineParams['loss'] {
  if (loss === undefined) return { kind: 'none' };
  if (typeof loss === 'number') return loss > 0 ? { kind: 'uniform', p: loss } : { kind: 'none' };
  if (loss.model === 'uniform') return loss.p > 0 ? { kind: 'uniform', p: loss.p } : { kind: 'none' };
  return { kind: 'ge', p: loss.p, r: loss.r, lossGood: loss.lossGood, lossBad: loss.lossBad };
}

/** Buffer depth in bytes: `{ms: 50}` at 20 Mbit/s → 125000. Default {@link DEFAULT_BUFFER_MS}. */
export function bufferBytes(buffer: Impair['buffer'], rateBps: number): number {
  if (!rateBps) return 0;
  if (buffer && 'bytes' in buffer) return Math.round(buffer.bytes);
  return Math.round((rateBps / 8) * ((buffer?.ms ?? DEFAULT_BUFFER_MS) / 1000));
}

/** A lab impairment (or a schedule state) for one direction as delay-line parameters. */
export function lineParams(i: Omit<Impair, 'schedule' | 'trace'> | null | undefined): LineParams {
  const rateBps = Math.round(i?.rate ?? 0);
  return {
    delayNs: Math.round((i?.delay ?? 0) * 1e6),
    jitterNs: Math.round((i?.jitter ?? 0) * 1e6),
    loss: lossParams(i?.loss),
    down: i?.down ?? false,
    rateBps,
    bufferBytes: bufferBytes(i?.buffer, rateBps),
  };
}

/** The `key=value` arguments of the delay line's `set` / `sched-add` requests. */
export function paramArgs(p: LineParams): string {
  const loss = p.loss.kind === 'none' ? 'none' : p.loss.kind === 'uniform' ? `uniform:${p.loss.p}` : `ge:${p.loss.p}:${p.loss.r}:${p.loss.lossGood}:${p.loss.lossBad}`;
  return `delay_ns=${p.delayNs} jitter_ns=${p.jitterNs} loss=${loss} down=${p.down ? 1 : 0} rate_bps=${p.rateBps} buffer_bytes=${p.bufferBytes}`;
}

/**
 * Schedule steps as full states: each step keeps what the previous ones set and changes only its own
 * fields, starting from the base impairment; `at` in ms. Example: base {delay: 20}, steps
 * [{at: 0, loss: 0.01}, {at: 5000, delay: 80}] → [{at: 0, delay: 20, loss: 0.01}, {at: 5000, delay: 80, loss: 0.01}].
 */
export function scheduleStates(base: Omit<Impair, 'schedule' | 'trace'>, steps: ImpairStep[]): ImpairStep[] {
  let cur: Omit<Impair, 'schedule' | 'trace'> = { ...base };
  return [...steps].sort((a, b) => a.at - b.at).map((s) => {
    const { at, ...fields } = s;
    cur = { ...cur, ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) };
    return { at, ...cur };
  });
}

/** Expected long-run loss fraction of a loss model: uniform p, or p/(p+r)·lossBad + r/(p+r)·lossGood. */
export function expectedLoss(loss: LossModel | undefined): number {
  const l = lossParams(loss);
  if (l.kind === 'none') return 0;
  if (l.kind === 'uniform') return l.p;
  if (l.p + l.r === 0) return l.lossGood;
  return (l.p / (l.p + l.r)) * l.lossBad + (l.r / (l.p + l.r)) * l.lossGood;
}

/** Mean length of runs of consecutive losses in a received/lost sequence (true = lost); 0 when none. */
export function meanBurst(lost: boolean[]): number {
  let runs = 0, total = 0, cur = 0;
  for (const l of lost) {
    if (l) { cur++; total++; } else if (cur) { runs++; cur = 0; }
  }
  if (cur) runs++;
  return runs ? total / runs : 0;
}

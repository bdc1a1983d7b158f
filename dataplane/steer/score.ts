/**
 * A single quality score per path from latency, jitter and loss, 0 (useless) … 93.2 (perfect), after the
 * simplified ITU-T G.107 E-model R-factor that VoIP monitors use (Cole & Rosenbluth): jitter counts twice
 * (a de-jitter buffer adds about that much delay), each 1% of loss costs 2.5 points, and one-way delay past
 * 160 ms costs ten times as much as below it. Higher is better; a down path scores 0.
 */

/** Inputs in ms (one-way latency and jitter) and loss as a fraction 0..1. */
export interface ScoreInput {
  latency?: number;
  jitter: number;
  loss: number;
}

/** R-factor-like score. Example: `scorePath({latency: 20, jitter: 2, loss: 0})` ≈ 92.4; undefined latency → 0. */
export function scorePath(m: ScoreInput, down = false): number {
  if (down || m.latency === undefined) return 0;
  const effective = m.latency + 2 * m.jitter + 10;
  const delayCost = effective < 160 ? effective / 40 : (effective - 120) / 10;
  const r = 93.2 - delayCost - 2.5 * (m.loss * 100);
  return Math.max(0, Math.min(100, r));
}

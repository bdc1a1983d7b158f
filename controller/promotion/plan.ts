/** Pure planning: options with defaults filled and checked, and which edges each step touches. */
import { z } from 'zod';
import { DEFAULT_OPTIONS, type PromotionOptions, type RolloutPlan } from './types.ts';

const ms = z.number().int().nonnegative();

/** zod schema of {@link PromotionOptions}; every key optional on input, defaults from {@link DEFAULT_OPTIONS}. */
export const PromotionOptionsSchema = z.object({
  canary: z.array(z.string().min(1)).default(DEFAULT_OPTIONS.canary),
  waves: z.array(z.number().gt(0).lte(100)).min(1)
    .refine((w) => w.every((p, i) => i === 0 || p > w[i - 1]!), 'expected strictly ascending percentages')
    .refine((w) => w[w.length - 1] === 100, 'expected the last wave to be 100 (every edge)')
    .default(DEFAULT_OPTIONS.waves),
  soakMs: ms.default(DEFAULT_OPTIONS.soakMs),
  waveSoakMs: ms.default(DEFAULT_OPTIONS.waveSoakMs),
  ackTimeoutMs: ms.default(DEFAULT_OPTIONS.ackTimeoutMs),
  rollbackTimeoutMs: ms.default(DEFAULT_OPTIONS.rollbackTimeoutMs),
  approvalRequired: z.boolean().default(DEFAULT_OPTIONS.approvalRequired),
  gates: z.object({
    minSlaCompliance: z.number().min(0).max(1).default(DEFAULT_OPTIONS.gates.minSlaCompliance),
    maxSilenceMs: ms.default(DEFAULT_OPTIONS.gates.maxSilenceMs),
  }).strict().default(DEFAULT_OPTIONS.gates),
}).strict();

/**
 * Splits the target edges into the canary and the waves.
 * Plan order: the canary edges first, then the others by name. Wave i takes the plan-order edges up to
 * ceil(waves[i] / 100 × N) that no earlier step took; empty waves are dropped.
 * @returns the plan, or a string saying what is wrong (an unknown canary edge, no edges at all).
 * @example planRollout(['e1','e2','e3','e4'], { canary: ['e3'], waves: [50, 100] }) // { canary: ['e3'], waves: [['e1'], ['e2','e4']] }
 */
export function planRollout(targets: readonly string[], opts: Pick<PromotionOptions, 'canary' | 'waves'>): RolloutPlan | string {
  if (!targets.length) return 'no edge gets a bundle from this version';
  const sorted = [...new Set(targets)].sort();
  const unknown = opts.canary.filter((c) => !sorted.includes(c));
  if (unknown.length) return `canary edge(s) ${unknown.join(', ')} get no bundle from this version (targets: ${sorted.join(', ')})`;
  const canary = opts.canary.length ? [...new Set(opts.canary)] : [sorted[0]!];
  const order = [...canary, ...sorted.filter((e) => !canary.includes(e))];
  const waves: string[][] = [];
  let covered = canary.length;
  for (const p of opts.waves) {
    const upTo = Math.min(order.length, Math.ceil((p / 100) * order.length));
    if (upTo > covered) { waves.push(order.slice(covered, upTo)); covered = upTo; }
  }
  return { canary, waves };
}

/**
 * Steering tuning (hysteresis) and the checks that catch contradictory policies before anything runs:
 * a primary transport listed again among its backups, a failover threshold not below the failback
 * threshold, an SLA class that does not exist. Failures are {@link InputError}s naming file and key path.
 */
import { z } from 'zod';
import { Duration } from '../units.ts';
import { InputError, validate, type InputIssue } from '../errors.ts';
import type { SteerInput } from './steer.ts';

/** The tuning file/section, with units. Every field optional; see {@link DEFAULT_STEER_POLICY}. */
export const SteerPolicySpec = z.strictObject({
  minDwell: Duration().default(10_000).describe('A selection stays at least this long unless it stops complying; default 10s'),
  failbackHold: Duration().default(10_000).describe('A better or more preferred path must stay good this long before traffic moves to it; restarts on any dip; default 10s'),
  failoverScore: z.number().min(0).max(100).default(30).describe('Leave a path whose score falls below this (0..100); default 30'),
  failbackScore: z.number().min(0).max(100).default(50).describe('A path must score at least this (held for failbackHold) to win traffic back; default 50'),
  betterBy: z.number().min(0).max(100).default(10).describe('best-quality/duplicate: switch only for this many score points; default 10'),
}).superRefine((p, ctx) => {
  if (p.failoverScore >= p.failbackScore) {
    ctx.addIssue({ code: 'custom', path: ['failoverScore'], message: `the failover threshold (${p.failoverScore}) must be below the failback threshold failbackScore (${p.failbackScore}), or traffic would flap between the two` });
  }
});

/** Steering tuning in base units (ms, score points). */
export interface SteerPolicy {
  minDwellMs: number;
  failbackHoldMs: number;
  failoverScore: number;
  failbackScore: number;
  betterBy: number;
}

export const DEFAULT_STEER_POLICY: SteerPolicy = { minDwellMs: 10_000, failbackHoldMs: 10_000, failoverScore: 30, failbackScore: 50, betterBy: 10 };

/** Validate a tuning document (e.g. `{minDwell: "5s", failoverScore: 40}`); throws InputError (exit 2). */
export function loadSteerPolicy(data: unknown, file: string): SteerPolicy {
  const p = validate(SteerPolicySpec, data ?? {}, file);
  return { minDwellMs: p.minDwell, failbackHoldMs: p.failbackHold, failoverScore: p.failoverScore, failbackScore: p.failbackScore, betterBy: p.betterBy };
}

/**
 * Cross-checks of rules against the SLA classes and paths of a bundle: the primary (preferred[0]) must not
 * appear again among the backups (preferred[1..]), no transport twice, SLA classes must exist, every
 * preferred transport must have at least one path. Throws one InputError listing every problem.
 */
export function checkSteerInput(input: SteerInput, file: string): void {
  const issues: InputIssue[] = [];
  const sla = new Set(input.slaClasses.map((s) => s.name));
  const transports = new Set(input.paths.map((p) => p.transport));
  input.rules.forEach((r, i) => {
    if (r.slaClass !== undefined && !sla.has(r.slaClass)) {
      issues.push({ path: ['rules', i, 'slaClass'], message: `SLA class "${r.slaClass}" is not defined (known: ${[...sla].sort().join(', ') || 'none'})` });
    }
    const seen = new Map<string, number>();
    r.preferred.forEach((t, j) => {
      const first = seen.get(t);
      if (first === 0) issues.push({ path: ['rules', i, 'preferred', j], message: `transport "${t}" is the primary (preferred[0]) and cannot also be a backup` });
      else if (first !== undefined) issues.push({ path: ['rules', i, 'preferred', j], message: `transport "${t}" is already listed at preferred[${first}]` });
      else seen.set(t, j);
      if (!transports.has(t)) issues.push({ path: ['rules', i, 'preferred', j], message: `no path uses transport "${t}" (known: ${[...transports].sort().join(', ') || 'none'})` });
    });
  });
  if (issues.length) throw new InputError(file, issues);
}

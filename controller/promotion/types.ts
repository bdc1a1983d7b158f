/**
 * The promotion workflow's data: the options an operator gives, the rollout plan, the machine's context and
 * events, the injected {@link Clock}, and the {@link Fleet} interface every edge operation goes through.
 * Everything in the machine's context is plain JSON, because the context is persisted after every transition.
 */
import type { Store } from '../store/index.ts';

/** Health gates checked during every soak (canary soak and each wave's soak). */
export interface GateOptions {
  /**
   * Lowest SLA compliance (fraction 0..1 of probe windows that met the edge's SLA classes) an edge may report.
   * Edges that report no figure are not judged by this gate. Default 0.99.
   */
  minSlaCompliance: number;
  /** An edge not seen by the controller for longer than this (ms) fails the health gate. Default 60 000. */
  maxSilenceMs: number;
}

/**
 * How a promotion rolls out. All durations in milliseconds.
 * @example { canary: ['edge1'], waves: [10, 50, 100], soakMs: 600_000, waveSoakMs: 60_000, ackTimeoutMs: 120_000,
 *            rollbackTimeoutMs: 300_000, approvalRequired: false, gates: { minSlaCompliance: 0.99, maxSilenceMs: 60_000 } }
 */
export interface PromotionOptions {
  /** Edges that get the version first. Default: the first target edge by name. */
  canary: string[];
  /**
   * Cumulative percentages of the whole target fleet (canary included), ascending, the last one 100.
   * Wave i covers the edges up to ceil(p_i × N) in plan order that earlier steps did not cover; waves that
   * would be empty are dropped. Default [10, 50, 100].
   */
  waves: number[];
  /** The canary's soak. Default 600 000 (10 min). */
  soakMs: number;
  /** The short soak after each wave. Default 60 000. */
  waveSoakMs: number;
  /** How long a step waits for every edge of the step to ack the version. Default 120 000. */
  ackTimeoutMs: number;
  /** How long a rollback waits for every touched edge to ack the previous version. Default 300 000. */
  rollbackTimeoutMs: number;
  /** Wait for `patronus approve ID` between verification and canary. Default false. */
  approvalRequired: boolean;
  gates: GateOptions;
}

/** The defaults of {@link PromotionOptions} (canary empty = "the first target edge"). */
export const DEFAULT_OPTIONS: PromotionOptions = {
  canary: [],
  waves: [10, 50, 100],
  soakMs: 600_000,
  waveSoakMs: 60_000,
  ackTimeoutMs: 120_000,
  rollbackTimeoutMs: 300_000,
  approvalRequired: false,
  gates: { minSlaCompliance: 0.99, maxSilenceMs: 60_000 },
};

/** Which edges each step touches, fixed at validation. */
export interface RolloutPlan {
  canary: string[];
  /** One list per wave that adds edges, in order; may be empty when the canary is the whole fleet. */
  waves: string[][];
}

/** What the machine is started with. `at`: ms since the epoch, from the injected clock. */
export interface PromotionInput {
  id: string;
  version: number;
  options: PromotionOptions;
  /** Who started it (`cli:alice`, an operator token name, …). */
  by: string;
  at: number;
}

/** The machine's context — persisted (JSON) after every transition. */
export interface PromotionContext {
  id: string;
  version: number;
  by: string;
  options: PromotionOptions;
  /** The version every target edge was on before (null: never assigned one). Set by validation. */
  fromVersion: number | null;
  plan: RolloutPlan | null;
  /** The step the machine is in or last left: `validate`, `verify`, `approval`, `canary`, `canary soak`,
   * `wave 1`, `wave 1 soak`, …, `rollback`. Failures name it. */
  step: string;
  /** Edges of the store that get no bundle from this version and are left alone. */
  excluded: string[];
  /** Index into plan.waves of the current (or last) wave. */
  waveIndex: number;
  /** Every edge whose desired version this promotion has set, in order — all of them are rolled back. */
  touched: string[];
  /** When the current step began (ms, from the event that entered it); deadlines count from here. */
  stepStartedAt: number;
  startedAt: number;
  finishedAt: number | null;
  approvedBy: string | null;
  /** Why it failed or rolled back (null while fine and on success). */
  reason: string | null;
  /** The step that failed (`canary`, `wave 2`, `verify`, …). */
  failedStep: string | null;
  /** Summary of the twin verification (verdict and per-scenario verdicts). */
  verification: VerifySummary | null;
}

/** Outcome of verifying a version on the twin. */
export interface VerifySummary {
  verdict: 'pass' | 'fail' | 'invalid';
  /** Per scenario: name and verdict. */
  scenarios: { scenario: string; verdict: string }[];
  /** True when a stored passing report for the same intent hash was reused instead of running the twin. */
  reused: boolean;
}

/** Events sent to the machine from outside. `at` comes from the runner's clock. */
export type PromotionEvent =
  | { type: 'APPROVE'; by: string; at: number }
  | { type: 'ABORT'; by: string; reason: string; at: number };

/** Output of the validation actor. */
export interface ValidateOutput { at: number; fromVersion: number | null; plan: RolloutPlan; excluded: string[] }
/** Output of the verification actor. */
export interface VerifyOutput { at: number; summary: VerifySummary }
/** Output of the ack-waiting and soak actors. */
export interface StepOutput { at: number }

/** Input of the ack-waiting actor: wait until every edge acks `version`; fail at `deadlineAt` (ms). */
export interface AcksInput { step: string; edges: string[]; version: number | null; since: number; deadlineAt: number }
/** Input of the soak gate actor: keep checking the gates on `edges` running `version` until `until` (ms). */
export interface SoakInput { step: string; edges: string[]; version: number; until: number; gates: GateOptions }
/** Input of the validation actor. */
export interface ValidateInput { id: string; version: number; options: PromotionOptions }
/** Input of the verification actor. */
export interface VerifyInput { version: number }

/**
 * Time, injected: the machine never reads a clock; the runner and the actors use this one, so a test runs a
 * 10-minute soak in milliseconds with {@link virtualClock}.
 */
export interface Clock {
  /** ms since the epoch. */
  now(): number;
  /** Resolves after `ms` of this clock's time; rejects with the signal's reason when aborted. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** An edge's answer to "have you applied version V?". */
export type AckState =
  | { edge: string; state: 'ok'; at: number | null }
  | { edge: string; state: 'pending' }
  | { edge: string; state: 'failed'; error: string; at: number };

/** What the health gates read about one edge. */
export interface EdgeHealth {
  edge: string;
  /** The version the edge last acked as applied (null: none). */
  appliedVersion: number | null;
  /** The edge's own verdict on itself; null when it reported none. */
  healthy: boolean | null;
  /** SLA compliance 0..1 from telemetry (the worst class); null when not reported. */
  slaCompliance: number | null;
  /** Compliance 0..1 per SLA class when the edge reports it (health `sla.classes`), so a failed gate can name the class. */
  slaClasses?: Record<string, number> | null;
  /** Last contact with the controller (ms); null: never. */
  lastSeen: number | null;
  /** Why it is unhealthy when it says so. */
  detail: string | null;
}

/**
 * Every edge operation of a promotion. The real one over the store is {@link storeFleet}; its desired-version
 * writes take the transaction the runner opens, so they commit together with the promotion's snapshot.
 */
export interface Fleet {
  /**
   * Set the desired version of `edges` inside transaction `tx`. Idempotent: edges already desiring `version`
   * are not written again. Returns the edges it changed.
   */
  setDesired(tx: Store, edges: readonly string[], version: number | null, why: { promotion: string; step: string; at: number }): Promise<string[]>;
  /** Called after the transaction holding setDesired committed, with the edges it changed (e.g. to wake edges). */
  committed?(edges: readonly string[], version: number | null): void;
  /** Each edge's ack of `version`, considering failures reported at or after `since` (ms). */
  acks(edges: readonly string[], version: number | null, since: number): Promise<AckState[]>;
  /** What the health gates read about each of `edges`. */
  health(edges: readonly string[]): Promise<EdgeHealth[]>;
}

/**
 * The scenario file (scenarios/*.yaml): which lab and intent, how long, which seeds, the traffic, a
 * timeline of events and the assertions a run is judged on. Durations, rates, sizes and percentages take
 * the same unit strings as labs and intents ("20ms", "5mbit", "1200b", "1%"); every time is measured
 * from the moment traffic starts (t = 0). See docs/scenarios.md for every key with an example.
 *
 * Example:
 *   name: isp-cut
 *   lab: labs/dual-wan/lab.yaml
 *   duration: 20s
 *   traffic:
 *     - { name: call, class: voice, profile: voice, from: host1, to: host2 }
 *   events:
 *     - { at: 6s, cut: mpls:p2 }
 *     - { at: 14s, restore: mpls:p2 }
 *   assert:
 *     - { sla: { class: voice, from: voice, min: 80% } }
 */
import { z } from 'zod';
import { Duration, Percent, Rate, Size } from '../dataplane/units.ts';
import { Impair, NodeName } from '../twin/index.ts';

const Name = () => z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'expected 1–32 lower-case letters, digits, "_" or "-", starting with a letter or digit');
/** "node:interface", a link endpoint of the lab (e.g. "mpls:p2" in a cloud, "edge1:wan0" at an edge). */
const Endpoint = () => z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}:[A-Za-z][A-Za-z0-9_-]{0,14}$/, 'expected a link endpoint "node:interface" like "mpls:p2"');

/** Traffic profiles: what each generates (docs/scenarios.md). */
export const PROFILES = ['voice', 'video', 'bulk', 'web', 'file'] as const;
export type Profile = (typeof PROFILES)[number];

/** DSCP names the generator can mark (an nftables rule in the sender's namespace). */
export const DSCP = { be: 0, cs1: 8, af21: 18, af41: 34, ef: 46 } as const;

const FlowFields = {
  /** Unique flow name; the receiver's records and the flows table use it. */
  name: Name(),
  /** Application class label the assertions group by (e.g. voice, video, bulk, web). */
  class: Name(),
  /**
   * voice: constant-rate UDP (`pps`, `size`); video: bursty UDP, `fps` frames per second of `rate`/`fps`
   * bits each sent back to back in `size` packets; bulk: one TCP connection as fast as it goes (or capped
   * at `rate`); web: UDP requests at `rps`, each answered with `size` bytes (latency is the round trip);
   * file: the same `size` bytes of seeded pseudo-random content (`seed`) sent `repeat` times over TCP, one
   * connection after the other (what a WAN optimiser deduplicates).
   */
  profile: z.enum(PROFILES),
  from: NodeName,
  to: NodeName,
  /** Destination port; default 20000 + 2 × the flow's position (inside the intents' voip port range). */
  port: z.number().int().min(1024).max(65535).optional(),
  /** DSCP to mark: default ef for voice, af41 for video, none otherwise. */
  dscp: z.enum(Object.keys(DSCP) as [keyof typeof DSCP, ...(keyof typeof DSCP)[]]).optional(),
  /** voice: packets per second (default 50). */
  pps: z.number().positive().max(10_000).optional(),
  /** video: frames per second (default 30). web: requests per second (default 20). */
  fps: z.number().positive().max(1000).optional(),
  rps: z.number().positive().max(10_000).optional(),
  /** video: mean rate (default 2mbit); bulk: a cap (default none). */
  rate: Rate().optional(),
  /** UDP payload bytes: voice 200, video 1200, web response 1000 by default (at least 16); file: the content's size (default 4mib, at most 256mib). */
  size: Size().optional(),
  /** file: how many times the content is sent (default 2). */
  repeat: z.number().int().min(1).max(100).optional(),
  /** file: seed of the content's pseudo-random bytes (default 1): the same seed, the same bytes. */
  seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
};

/** One traffic flow. Example: `{ name: call, class: voice, profile: voice, from: host1, to: host2, start: 1s }`. */
export const FlowSpec = z.strictObject({
  ...FlowFields,
  /** When the flow starts and stops (ms since t = 0); stop defaults to the scenario's duration. */
  start: Duration().default(0),
  stop: Duration().optional(),
});
export type FlowSpec = z.output<typeof FlowSpec>;

/** Impairment set on traffic leaving one endpoint: the lab's impairment fields (no schedule or trace) plus `link`. */
export const ImpairEvent = Impair.omit({ schedule: true, trace: true }).extend({ link: Endpoint() });

/** The actions an event can take; each event has `at` and exactly one of these. */
export const EVENT_ACTIONS = ['cut', 'restore', 'impair', 'clear', 'surge', 'restartAgent', 'controller'] as const;
export type EventAction = (typeof EVENT_ACTIONS)[number];

/**
 * One timeline event. `cut`/`restore` an endpoint (in a cloud: the underlay; at an edge: its access link),
 * `impair` an impairable link (delay, jitter, uniform or Gilbert–Elliott loss, rate), `clear` its
 * impairment, `surge` an extra flow for `for`, `restartAgent` kill an edge's agent and start it again,
 * `controller: unreachable` / `reachable` take the management network down / up between the edges and the
 * lab's controller (scenarios with `controller: true`; no process is killed).
 * Example: `{ at: 6s, impair: { link: edge1:wan0, delay: 200ms, loss: { model: gilbert-elliott, p: 5%, r: 30% } } }`.
 */
export const EventSpec = z.strictObject({
  at: Duration(),
  cut: Endpoint().optional(),
  restore: Endpoint().optional(),
  impair: ImpairEvent.optional(),
  clear: Endpoint().optional(),
  surge: z.strictObject({ ...FlowFields, for: Duration() }).optional(),
  restartAgent: NodeName.optional(),
  controller: z.enum(['unreachable', 'reachable']).optional(),
}).superRefine((e, ctx) => {
  const set = EVENT_ACTIONS.filter((k) => e[k] !== undefined);
  if (set.length !== 1) ctx.addIssue({ code: 'custom', message: `expected exactly one action of ${EVENT_ACTIONS.join(', ')}${set.length ? `, got ${set.join(' and ')}` : ''}` });
});
export type EventSpec = z.output<typeof EventSpec>;

/** What an assertion looks at: every flow of a class, or one flow by name (exactly one of the two). */
const Target = { class: Name().optional(), flow: Name().optional() };

/** The assertion kinds; each assertion has exactly one, and an optional `name`. */
export const ASSERTION_KINDS = ['sla', 'failoverGap', 'loss', 'goodput', 'latency', 'wanoptReduction', 'controllerReconnect'] as const;
export type AssertionKind = (typeof ASSERTION_KINDS)[number];

/**
 * One assertion, judged by SQL over the run's flows and gaps tables (docs/telemetry.md).
 * - `sla`: the share of intervals (of flows active then) meeting latency (p95 one-way), jitter and loss
 *   bounds is at least `min`; bounds from the intent's SLA class `from`, or given inline (inline wins).
 * - `failoverGap`: the longest silence of any matching flow is at most `max`.
 * - `loss`: lost / sent over the run is at most `max`.
 * - `goodput`: mean received bit/s over each flow's active time is at least `min` (every matching flow).
 * - `latency`: the `p`th percentile (50, 95 or 99) of per-interval latency is at most `max`.
 * - `wanoptReduction`: the edges' WAN-opt proxies put at most (1 − `min`) of the bytes the applications
 *   gave them on the wire (1 − wire bytes / payload bytes over the run, every edge or one `node`); it looks
 *   at edges, not flows, so it takes no `class` or `flow`. Example: `{ wanoptReduction: { min: 50% } }`.
 * - `controllerReconnect`: after every `controller: reachable` event, every edge (or `node`) noticed the
 *   controller again within `within`, and every health report it made during the outage reached the
 *   controller's analytics store. Example: `{ controllerReconnect: { within: 5s } }`.
 * Example: `{ name: voice keeps its SLA, sla: { class: voice, from: voice, min: 95% } }`.
 */
export const AssertionSpec = z.strictObject({
  name: z.string().min(1).max(120).optional(),
  sla: z.strictObject({ ...Target, from: Name().optional(), latency: Duration().optional(), jitter: Duration().optional(), loss: Percent().optional(), min: Percent() }).optional(),
  failoverGap: z.strictObject({ ...Target, max: Duration() }).optional(),
  loss: z.strictObject({ ...Target, max: Percent() }).optional(),
  goodput: z.strictObject({ ...Target, min: Rate() }).optional(),
  latency: z.strictObject({ ...Target, p: z.union([z.literal(50), z.literal(95), z.literal(99)]).default(95), max: Duration() }).optional(),
  wanoptReduction: z.strictObject({ min: Percent(), node: NodeName.optional() }).optional(),
  controllerReconnect: z.strictObject({ within: Duration(), node: NodeName.optional() }).optional(),
}).superRefine((a, ctx) => {
  const set = ASSERTION_KINDS.filter((k) => a[k] !== undefined);
  if (set.length !== 1) { ctx.addIssue({ code: 'custom', message: `expected exactly one of ${ASSERTION_KINDS.join(', ')}${set.length ? `, got ${set.join(' and ')}` : ''}` }); return; }
  if (set[0] === 'wanoptReduction' || set[0] === 'controllerReconnect') return;
  const t = a[set[0]!] as { class?: string; flow?: string };
  if ((t.class === undefined) === (t.flow === undefined)) ctx.addIssue({ code: 'custom', path: [set[0]!], message: 'expected exactly one of "class" or "flow"' });
});
export type AssertionSpec = z.output<typeof AssertionSpec>;

/**
 * When a run cannot be trusted (exit 3). Defaults suit a shared 2-core host: the median runnable
 * threads per CPU, the p99 lateness of the generators' send timers, kernel backlog drops (softnet) and
 * drops on the lab's veths, the agents' event-loop lag, the delay lines' lateness, and calibration of
 * the impairable links.
 */
export const TrustSpec = z.strictObject({
  /** Median of /proc/stat procs_running per CPU over the run (default 4). */
  maxRunQueuePerCpu: z.number().positive().default(4),
  /** p99 of the traffic senders' timer lateness (default 30ms). */
  maxTimerLate: Duration().default(30),
  /** Packets the kernel dropped for a full backlog (softnet_stat) during the run (default 0). */
  maxSoftnetDrops: z.number().int().min(0).default(0),
  /** rx/tx drops on the lab nodes' interfaces during the run (default 0). */
  maxVethDrops: z.number().int().min(0).default(0),
  /** p99 of each edge agent's event-loop lag over the run (default 50ms): probes and steering run on its timers. */
  maxAgentLoopLag: Duration().default(50),
  /**
   * p99 of how late each delay-line direction's packets left against their due time (default 10ms: an
   * order of magnitude under the SLA latency bounds runs judge; a busy shared 2-core host shows 2–8 ms).
   * Directions with under 100 packets are not judged.
   */
  maxDelayLineLate: Duration().default(10),
  /**
   * Raw probe results an edge agent's ring overwrote before the runner pulled them, per edge (default 0): the
   * run's probes table would be incomplete.
   */
  maxProbeRowsDropped: z.number().int().min(0).default(0),
  /** Calibrate the impairable links before traffic starts (default true). */
  calibrate: z.boolean().default(true),
});
export type TrustSpec = z.output<typeof TrustSpec>;

/** The scenario document as written. */
export const ScenarioDocument = z.strictObject({
  /** Default: the file name without extension. */
  name: Name().optional(),
  description: z.string().optional(),
  /** Lab file, relative to the scenario file. */
  lab: z.string().min(1),
  /** Intent file, relative to the scenario file; default intent.yaml beside the lab. `--intent` overrides it. */
  intent: z.string().min(1).optional(),
  /** How long traffic runs (at most 10 min). */
  duration: Duration().refine((d) => d >= 1000 && d <= 600_000, 'expected a duration between 1s and 10min'),
  /** Lab seeds (loss decisions); part 1 of the runner uses the first. Default [1]. */
  seeds: z.array(z.number().int().min(0).max(2 ** 53 - 1)).min(1).default([1]),
  /** Length of one flows-table interval (default 1s, at least 100ms). */
  interval: Duration().refine((d) => d >= 100, 'expected at least 100ms').default(1000),
  /** Wait after deploy, at most this long, for every path up and steering on the intent's preferred paths (default 20s). */
  settle: Duration().default(20_000),
  /**
   * Run the lab's edges under a controller (default false): `controller serve` in the lab (state beside the
   * run file), a management network to every edge, one-time enrolment tokens, and the intent pushed as a
   * version the edges pull (instead of bundles over their local sockets); they report health to it.
   * Needed by `controller` events and `controllerReconnect` assertions.
   */
  controller: z.boolean().default(false),
  traffic: z.array(FlowSpec).min(1),
  events: z.array(EventSpec).default([]),
  assert: z.array(AssertionSpec).default([]),
  trust: TrustSpec.default(TrustSpec.parse({})),
});
export type ScenarioDocument = z.output<typeof ScenarioDocument>;

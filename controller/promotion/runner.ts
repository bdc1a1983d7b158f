/**
 * The promotion runner: runs the machine against a store, persists its snapshot after EVERY transition and
 * resumes it after a crash.
 *
 * Persistence: the machine's `setDesired` action only queues the write; after each transition one store
 * transaction applies the queued desired-version writes AND saves the new persisted snapshot. Either both
 * commit or neither does, so a SIGKILL at any moment leaves the store at a snapshot consistent with the edges'
 * desired versions. On resume the snapshot is restored (`createActor(machine, { snapshot })`): entry actions are
 * not run again (no edge set twice), and the actor of the current state is re-invoked and re-derives its
 * progress from the store (who acked, the soak's absolute deadline).
 *
 * One runner per promotion: a lease `{owner: "host:pid", heartbeatAt}` (wall-clock ms) is kept in the stored
 * record and renewed every leaseMs/3; another runner takes over when the lease is older than leaseMs, or at
 * once when the owner is a dead process on this host (the SIGKILLed controller).
 *
 * Operator requests (approve, abort) are audit-log entries `promotion.approve` / `promotion.abort` with target
 * `promotion:ID`; the runner polls for them and sends APPROVE / ABORT. The machine ignores them where they do
 * not apply, so re-sending after a resume is harmless.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { createActor, type SnapshotFrom } from 'xstate';
import type { PromotionRecord, Store } from '../store/index.ts';
import { createPromotionActors, type Verifier } from './actors.ts';
import { realClock } from './clock.ts';
import { PromotionBusyError, PromotionRequestError } from './errors.ts';
import { storeFleet } from './fleet.ts';
import { FINAL_STATUSES, promotionMachine, statusOf } from './machine.ts';
import { PromotionOptionsSchema } from './plan.ts';
import type { Clock, Fleet, PromotionContext, PromotionInput, PromotionOptions, RolloutPlan, VerifySummary } from './types.ts';
import { twinVerifier } from './verify.ts';

/** Format tag of the JSON kept in `promotions.snapshot`. */
export const PROMOTION_RECORD_FORMAT = 'patronus-promotion/v1';

/** What `promotions.snapshot` holds. */
export interface StoredPromotion {
  format: typeof PROMOTION_RECORD_FORMAT;
  /** `actor.getPersistedSnapshot()` of the machine; null before the first transition was saved. */
  machine: unknown;
  /** Who runs it now; null when nobody does. */
  lease: { owner: string; heartbeatAt: number } | null;
}

/** How a runner runs promotions. Everything optional. */
export interface RunnerOptions {
  /** Edge operations; default {@link storeFleet} over the store. */
  fleet?: Fleet;
  /** The promotion's time (deadlines, soaks, audit times); default the wall clock. Leases always use the wall clock. */
  clock?: Clock;
  /** Twin verification; default {@link twinVerifier} over `scenarios/`. */
  verify?: Verifier;
  /** Replace some of the machine's actors (tests: a slow step). */
  actors?: Partial<ReturnType<typeof createPromotionActors>>;
  /** Poll period of ack waits, soaks and operator requests, in ms of `clock`. Default 1000. */
  pollMs?: number;
  /** Lease duration (wall-clock ms). Default 30 000. */
  leaseMs?: number;
  /** Lease owner name; default `<hostname>:<pid>`. */
  owner?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** A human-readable view of a stored promotion. */
export interface PromotionView {
  id: string;
  version: number;
  fromVersion: number | null;
  status: string;
  step: string;
  reason: string | null;
  failedStep: string | null;
  by: string;
  approvalRequired: boolean;
  approvedBy: string | null;
  plan: RolloutPlan | null;
  touched: string[];
  excluded: string[];
  verification: VerifySummary | null;
  startedAt: number;
  updatedAt: number;
  finishedAt: number | null;
  /** The lease holder, when one holds it. */
  owner: string | null;
}

/** A promotion being run by this process. */
export interface PromotionHandle {
  id: string;
  /** Resolves with the final view once the promotion is final and saved; rejects when the runner fails (the promotion stays resumable). */
  done: Promise<PromotionView>;
  /** Stop running it here (the lease is released, the promotion stays where it is, resumable). */
  stop(): Promise<void>;
}

const ownerName = () => `${hostname()}:${process.pid}`;

function wrapperOf(rec: PromotionRecord): StoredPromotion {
  const s = rec.snapshot as Partial<StoredPromotion> | null;
  if (s && s.format === PROMOTION_RECORD_FORMAT) return { format: PROMOTION_RECORD_FORMAT, machine: s.machine ?? null, lease: s.lease ?? null };
  return { format: PROMOTION_RECORD_FORMAT, machine: null, lease: null };
}

/** The view of a stored promotion record. */
export function promotionView(rec: PromotionRecord): PromotionView {
  const w = wrapperOf(rec);
  const ctx = (w.machine as { context?: PromotionContext } | null)?.context;
  return {
    id: rec.id, version: rec.version, fromVersion: ctx?.fromVersion ?? rec.fromVersion, status: rec.status, step: ctx?.step ?? 'validate',
    reason: ctx?.reason ?? null, failedStep: ctx?.failedStep ?? null, by: ctx?.by ?? '?', approvalRequired: ctx?.options.approvalRequired ?? false,
    approvedBy: ctx?.approvedBy ?? null, plan: ctx?.plan ?? null, touched: ctx?.touched ?? [], excluded: ctx?.excluded ?? [],
    verification: ctx?.verification ?? null, startedAt: ctx?.startedAt ?? rec.createdAt, updatedAt: rec.updatedAt,
    finishedAt: ctx?.finishedAt ?? null, owner: w.lease?.owner ?? null,
  };
}

/** Whether `lease` still belongs to a live runner (wall clock). */
function leaseLive(lease: StoredPromotion['lease'], leaseMs: number): boolean {
  if (!lease) return false;
  if (Date.now() - lease.heartbeatAt > leaseMs) return false;
  const [host, pid] = [lease.owner.slice(0, lease.owner.lastIndexOf(':')), Number(lease.owner.slice(lease.owner.lastIndexOf(':') + 1))];
  if (host === hostname() && Number.isInteger(pid)) {
    try { process.kill(pid, 0); } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false; }
  }
  return true;
}

/**
 * Start a promotion of stored intent `version` and run it in this process.
 * @param req.options partial {@link PromotionOptions}; defaults filled, checked.
 * @throws PromotionRequestError for bad options or a version that does not exist (nothing is stored then).
 * @example const h = await startPromotion(store, { version: 7, by: 'cli:alice', options: { canary: ['edge1'], waves: [50, 100] } });
 *          const view = await h.done; // view.status: 'done' | 'rolled-back' | 'failed'
 */
export async function startPromotion(store: Store, req: { version: number; by: string; options?: Partial<PromotionOptions>; id?: string }, opts: RunnerOptions = {}): Promise<PromotionHandle> {
  const parsed = PromotionOptionsSchema.safeParse(req.options ?? {});
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw new PromotionRequestError(`promotion options: ${i.path.join('.') || '(root)'}: ${i.message}`);
  }
  if (!(await store.getVersion(req.version))) {
    throw new PromotionRequestError(`version ${req.version} does not exist (latest: ${(await store.latestVersion())?.id ?? 'none'})`);
  }
  const clock = opts.clock ?? realClock;
  const id = req.id ?? `promo-${randomBytes(4).toString('hex')}`;
  const at = clock.now();
  await store.tx(async (tx) => {
    await tx.createPromotion({ id, version: req.version, fromVersion: null, status: 'validating', at, snapshot: { format: PROMOTION_RECORD_FORMAT, machine: null, lease: { owner: opts.owner ?? ownerName(), heartbeatAt: Date.now() } } satisfies StoredPromotion });
    await tx.appendAudit({ at, actor: req.by, action: 'promotion.start', target: `promotion:${id}`, outcome: 'ok', detail: { version: req.version, options: parsed.data } });
  });
  return drive(store, id, { input: { id, version: req.version, options: parsed.data, by: req.by, at } }, opts);
}

/**
 * Resume a stored promotion from its last persisted snapshot (after a crash, or to take it over).
 * @throws PromotionRequestError when it does not exist or is final; PromotionBusyError when a live runner holds it.
 */
export async function resumePromotion(store: Store, id: string, opts: RunnerOptions = {}): Promise<PromotionHandle> {
  const rec = await store.getPromotion(id);
  if (!rec) throw new PromotionRequestError(`no promotion ${id}`);
  if (FINAL_STATUSES.includes(rec.status)) throw new PromotionRequestError(`promotion ${id} is ${rec.status}; nothing to resume`);
  const machine = wrapperOf(rec).machine;
  if (!machine) {
    // Killed between creating the record and saving the first snapshot: start the machine from its input again.
    const startEntry = (await store.listAudit({ action: 'promotion.start', limit: 1000 })).find((a) => a.target === `promotion:${id}`);
    const d = startEntry?.detail as { options?: PromotionOptions } | undefined;
    return drive(store, id, { input: { id, version: rec.version, options: PromotionOptionsSchema.parse(d?.options ?? {}), by: startEntry?.actor ?? 'controller', at: rec.createdAt } }, opts);
  }
  return drive(store, id, { snapshot: machine }, opts);
}

/** Promotions run by this process, so two runners in one process (a CLI, the API, runPromotions) never share one. */
const runningHere = new Set<string>();

/** Takes the lease; a resumed promotion gets a `promotion.resume` audit entry. Returns the stored status. */
async function claim(store: Store, id: string, owner: string, leaseMs: number): Promise<string> {
  if (runningHere.has(id)) throw new PromotionBusyError(`promotion ${id} is already run by this process`);
  return store.tx(async (tx) => {
    const rec = await tx.getPromotion(id);
    if (!rec) throw new PromotionRequestError(`no promotion ${id}`);
    const w = wrapperOf(rec);
    if (w.lease && w.lease.owner !== owner && leaseLive(w.lease, leaseMs)) throw new PromotionBusyError(`promotion ${id} is run by ${w.lease.owner}`);
    await tx.updatePromotion(id, { snapshot: { ...w, lease: { owner, heartbeatAt: Date.now() } } });
    if (w.machine) {
      await tx.appendAudit({ actor: 'controller', action: 'promotion.resume', target: `promotion:${id}`, outcome: 'ok', detail: { status: rec.status, owner, previousOwner: w.lease?.owner ?? null } });
    }
    return w.machine ? rec.status : '';
  });
}

async function drive(store: Store, id: string, from: { input: PromotionInput } | { snapshot: unknown }, opts: RunnerOptions): Promise<PromotionHandle> {
  const clock = opts.clock ?? realClock;
  const fleet = opts.fleet ?? storeFleet(store);
  const owner = opts.owner ?? ownerName();
  const leaseMs = opts.leaseMs ?? 30_000;
  const log = opts.log ?? (() => {});
  const previous = await claim(store, id, owner, leaseMs);
  runningHere.add(id);

  const pending: { step: string; edges: string[]; version: number | null }[] = [];
  const machine = promotionMachine.provide({
    actors: { ...createPromotionActors({ store, fleet, clock, verify: opts.verify ?? twinVerifier({ log }), pollMs: opts.pollMs }), ...opts.actors },
    actions: { setDesired: (_, params) => { pending.push(params); } },
  });
  const actor = 'input' in from
    ? createActor(machine, { input: from.input })
    // The input is only read by a fresh start; a restored actor takes everything from its snapshot.
    : createActor(machine, { snapshot: from.snapshot as SnapshotFrom<typeof machine>, input: undefined as unknown as PromotionInput });

  let chain: Promise<void> = Promise.resolve();
  let failure: unknown = null;
  // A resumed promotion's first snapshot is the stored one: no second `promotion.step` entry for it.
  let lastStatus = previous;
  let stopped = false;
  const enqueue = (fn: () => Promise<void>) => {
    chain = chain.then(() => (failure || stopped ? undefined : fn())).catch((e) => {
      failure ??= e;
      // A failed save leaves the promotion at its last saved snapshot: stop here, it stays resumable.
      queueMicrotask(() => void stop());
    });
    return chain;
  };

  let settle!: { resolve: (v: PromotionView) => void; reject: (e: unknown) => void };
  const done = new Promise<PromotionView>((resolve, reject) => { settle = { resolve, reject }; });
  done.catch(() => {});

  const lease = (): StoredPromotion['lease'] => ({ owner, heartbeatAt: Date.now() });
  const save = (snapshot: SnapshotFrom<typeof machine>) => {
    // Captured now, in the transition that queued the writes, so the saved state and the writes match.
    const writes = pending.splice(0);
    const persisted = JSON.parse(JSON.stringify(actor.getPersistedSnapshot())) as unknown;
    const status = statusOf(snapshot.value, snapshot.context);
    const final = snapshot.status === 'done';
    const ctx = snapshot.context;
    void enqueue(async () => {
      const at = clock.now();
      const applied: { edges: string[]; version: number | null }[] = [];
      await store.tx(async (tx) => {
        for (const w of writes) {
          const changed = await fleet.setDesired(tx, w.edges, w.version, { promotion: id, step: w.step, at });
          if (changed.length) applied.push({ edges: changed, version: w.version });
        }
        await tx.updatePromotion(id, { status, at, snapshot: { format: PROMOTION_RECORD_FORMAT, machine: persisted, lease: final ? null : lease() } satisfies StoredPromotion });
        if (status !== lastStatus) {
          await tx.appendAudit({ at, actor: 'controller', action: 'promotion.step', target: `promotion:${id}`, outcome: status === 'done' || !final ? 'ok' : 'error', detail: { status, step: ctx.step, reason: ctx.reason } });
        }
      });
      for (const a of applied) {
        fleet.committed?.(a.edges, a.version);
        log(`${id}: desired version ${a.version ?? 'none'} on ${a.edges.join(', ')}`);
      }
      if (status !== lastStatus) log(`${id}: ${status}${ctx.reason && final ? ` — ${ctx.reason}` : ''}`);
      lastStatus = status;
    });
    if (final) {
      void enqueue(async () => {}).then(async () => {
        cleanup();
        if (failure) { settle.reject(failure); return; }
        settle.resolve(promotionView((await store.getPromotion(id))!));
      });
    }
  };

  const sub = actor.subscribe({
    next: save,
    error: (e) => { failure ??= e; void stop(); },
  });

  // Operator requests and the lease heartbeat, until the promotion ends or this runner stops.
  const ac = new AbortController();
  const pollMs = opts.pollMs ?? 1000;
  const since = (await store.getPromotion(id))!.createdAt;
  const requests = (async () => {
    while (!ac.signal.aborted) {
      const entries = [
        ...await store.listAudit({ action: 'promotion.approve', outcome: 'ok', since, limit: 1000 }),
        ...await store.listAudit({ action: 'promotion.abort', outcome: 'ok', since, limit: 1000 }),
      ].filter((a) => a.target === `promotion:${id}`).sort((a, b) => a.id - b.id);
      for (const a of entries) {
        if (ac.signal.aborted || actor.getSnapshot().status !== 'active') break;
        if (a.action === 'promotion.approve') actor.send({ type: 'APPROVE', by: a.actor, at: clock.now() });
        if (a.action === 'promotion.abort') actor.send({ type: 'ABORT', by: a.actor, reason: String((a.detail as { reason?: unknown } | null)?.reason ?? 'no reason given'), at: clock.now() });
      }
      await clock.sleep(pollMs, ac.signal).catch(() => {});
    }
  })();
  const heartbeat = setInterval(() => {
    void enqueue(async () => {
      await store.tx(async (tx) => {
        const rec = await tx.getPromotion(id);
        const w = rec && wrapperOf(rec);
        if (!w || w.lease?.owner !== owner) throw new PromotionBusyError(`promotion ${id}: lease lost to ${w?.lease?.owner ?? 'nobody'}`);
        await tx.updatePromotion(id, { snapshot: { ...w, lease: lease() } });
      });
    });
  }, Math.max(50, Math.floor(leaseMs / 3)));

  function cleanup() {
    runningHere.delete(id);
    ac.abort();
    clearInterval(heartbeat);
    sub.unsubscribe();
  }

  async function stop(): Promise<void> {
    if (stopped) return;
    cleanup();
    actor.stop();
    await chain;
    stopped = true;
    await requests;
    // Release the lease only if it is still ours; the machine snapshot stays as last saved.
    await store.tx(async (tx) => {
      const rec = await tx.getPromotion(id);
      const w = rec && wrapperOf(rec);
      if (w && w.lease?.owner === owner) await tx.updatePromotion(id, { snapshot: { ...w, lease: null } });
    }).catch((e) => log(`${id}: could not release the lease (it expires after ${leaseMs} ms): ${(e as Error).message}`));
    settle.reject(failure ?? new PromotionRequestError(`promotion ${id} stopped in this runner; it is resumable`));
  }

  actor.start();
  return { id, done, stop };
}

/**
 * Record an operator's approval of promotion `id` (audit `promotion.approve`); the runner sends APPROVE.
 * `record: false` only checks — for a caller that writes that same audit entry itself (the operator API).
 * @throws PromotionRequestError when it does not exist, is final, or does not require approval.
 */
export async function requestApproval(store: Store, id: string, by: string, at = Date.now(), record = true): Promise<PromotionView> {
  const rec = await store.getPromotion(id);
  if (!rec) throw new PromotionRequestError(`no promotion ${id}`);
  const v = promotionView(rec);
  if (FINAL_STATUSES.includes(rec.status)) throw new PromotionRequestError(`promotion ${id} is ${rec.status}; nothing to approve`);
  if (!v.approvalRequired) throw new PromotionRequestError(`promotion ${id} does not wait for approval`);
  if (v.approvedBy) throw new PromotionRequestError(`promotion ${id} was already approved by ${v.approvedBy}`);
  if (record) await store.appendAudit({ at, actor: by, action: 'promotion.approve', target: `promotion:${id}`, outcome: 'ok', detail: { status: rec.status } });
  return v;
}

/**
 * Record an operator's abort of promotion `id` (audit `promotion.abort`); the runner sends ABORT, which rolls
 * back every touched edge. `record: false` only checks (see {@link requestApproval}).
 * @throws PromotionRequestError when it does not exist or is final.
 */
export async function requestAbort(store: Store, id: string, by: string, reason: string, at = Date.now(), record = true): Promise<PromotionView> {
  const rec = await store.getPromotion(id);
  if (!rec) throw new PromotionRequestError(`no promotion ${id}`);
  if (FINAL_STATUSES.includes(rec.status)) throw new PromotionRequestError(`promotion ${id} is ${rec.status}; nothing to abort`);
  if (record) await store.appendAudit({ at, actor: by, action: 'promotion.abort', target: `promotion:${id}`, outcome: 'ok', detail: { status: rec.status, reason } });
  return promotionView(rec);
}

/**
 * The controller's driving loop (for `patronus controller serve`): every `pollMs` it resumes each unfinished
 * promotion that no live runner holds, until `signal` aborts; then it stops them (they stay resumable).
 * @example const ac = new AbortController(); void runPromotions(store, storeFleet(store), { clock: realClock, signal: ac.signal });
 */
export async function runPromotions(store: Store, fleet: Fleet, opts: RunnerOptions & { signal?: AbortSignal } = {}): Promise<void> {
  const clock = opts.clock ?? realClock;
  const running = new Map<string, PromotionHandle>();
  const log = opts.log ?? (() => {});
  while (!opts.signal?.aborted) {
    for (const p of await store.listPromotions()) {
      if (FINAL_STATUSES.includes(p.status) || running.has(p.id)) continue;
      try {
        const h = await resumePromotion(store, p.id, { ...opts, fleet, clock });
        running.set(p.id, h);
        h.done.then((v) => log(`${v.id}: ${v.status}`), (e) => log(`${p.id}: runner stopped: ${(e as Error).message}`)).finally(() => running.delete(p.id));
      } catch (e) {
        if (!(e instanceof PromotionBusyError)) log(`${p.id}: cannot resume: ${(e as Error).message}`);
      }
    }
    await clock.sleep(opts.pollMs ?? 1000, opts.signal).catch(() => {});
  }
  await Promise.all([...running.values()].map((h) => h.stop()));
}

/** The view of promotion `id`, or null. */
export async function getPromotionView(store: Store, id: string): Promise<PromotionView | null> {
  const rec = await store.getPromotion(id);
  return rec ? promotionView(rec) : null;
}

/** Views of every promotion, newest first. */
export async function listPromotionViews(store: Store): Promise<PromotionView[]> {
  return (await store.listPromotions()).map(promotionView);
}


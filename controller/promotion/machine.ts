/**
 * The promotion state machine (xstate v5):
 *
 *   running: validating → verifying → [awaitingApproval] → canary → canarySoak → (wave → waveSoak)* → done
 *   any failure after the first edge was touched → rollingBack → rolledBack (or failed when the rollback itself
 *   does not complete); a failure before that → failed. ABORT while running is a failure with the operator's reason.
 *
 * The machine is pure: it never reads a clock and never touches the store. Time enters through events (every
 * actor output, APPROVE and ABORT carry `at`), deadlines are data in the invoked actors' input, and edge writes
 * are the `setDesired` action, which the runner implements by writing in the same transaction as the snapshot.
 *
 * Why waits are invoked actors and not `after` delays (STYLE.md asks for `delays`): xstate v5 does not put
 * pending delayed events into `getPersistedSnapshot()` and does not re-run entry actions on restore, so a soak
 * timer would be lost when the controller is killed. Invoked actors are restarted on restore with their
 * persisted input, so a resumed soak continues to the same absolute deadline. Swap the actors with
 * `promotionMachine.provide({ actors })` (see {@link createPromotionActors}) — a test gives a virtual clock and
 * a 10-minute soak runs in milliseconds.
 */
import { assign, fromPromise, setup } from 'xstate';
import type {
  AcksInput, PromotionContext, PromotionEvent, PromotionInput, SoakInput, StepOutput, ValidateInput, ValidateOutput,
  VerifyInput, VerifyOutput,
} from './types.ts';

const notProvided = (name: string) => async (): Promise<never> => {
  throw new Error(`promotion actor "${name}" is not provided: use promotionMachine.provide({ actors })`);
};

/** A failure as the machine records it: the message, the step it names (or the current one), its time. */
function failureOf(error: unknown, ctx: PromotionContext): { reason: string; step: string; at: number } {
  const e = error as { message?: unknown; step?: unknown; at?: unknown } | null;
  return {
    reason: typeof e?.message === 'string' ? e.message : String(error),
    step: typeof e?.step === 'string' ? e.step : ctx.step,
    at: typeof e?.at === 'number' ? e.at : ctx.stepStartedAt,
  };
}

/** Names of the machine's implementations; the runner and tests provide them. */
export const promotionSetup = setup({
  types: {
    context: {} as PromotionContext,
    input: {} as PromotionInput,
    events: {} as PromotionEvent,
  },
  actors: {
    validate: fromPromise<ValidateOutput, ValidateInput>(notProvided('validate')),
    verify: fromPromise<VerifyOutput, VerifyInput>(notProvided('verify')),
    awaitAcks: fromPromise<StepOutput, AcksInput>(notProvided('awaitAcks')),
    soak: fromPromise<StepOutput, SoakInput>(notProvided('soak')),
  },
  guards: {
    approvalRequired: ({ context }) => context.options.approvalRequired,
    hasWaves: ({ context }) => (context.plan?.waves.length ?? 0) > 0,
    hasMoreWaves: ({ context }) => context.waveIndex + 1 < (context.plan?.waves.length ?? 0),
    touchedAny: ({ context }) => context.touched.length > 0,
  },
  actions: {
    /** Set `edges`' desired version. The default does nothing; the runner's writes join the snapshot's transaction. */
    setDesired: (_, _params: { step: string; edges: string[]; version: number | null }) => {},
    recordFailure: assign(({ context, event }) => {
      const f = failureOf((event as { error?: unknown }).error, context);
      return { reason: f.reason, failedStep: f.step, stepStartedAt: Math.max(context.stepStartedAt, f.at) };
    }),
    recordAbort: assign(({ context, event }) => {
      const e = event as Extract<PromotionEvent, { type: 'ABORT' }>;
      return { reason: `aborted by ${e.by}: ${e.reason}`, failedStep: context.step, stepStartedAt: Math.max(context.stepStartedAt, e.at) };
    }),
    finish: assign(({ context, event }) => {
      const at = (event as { output?: { at?: number } }).output?.at;
      return { finishedAt: typeof at === 'number' ? at : context.stepStartedAt };
    }),
  },
});

const wave = (ctx: PromotionContext) => ctx.plan?.waves[ctx.waveIndex] ?? [];
const stamp = (at: number) => ({ stepStartedAt: at });

/**
 * The promotion machine with placeholder actors that fail; run it through the runner (controller/promotion
 * runner.ts), or provide actors yourself.
 * @example const [s] = initialTransition(promotionMachine, { id: 'p1', version: 2, options, by: 'cli:ops', at: 0 });
 */
export const promotionMachine = promotionSetup.createMachine({
  id: 'promotion',
  context: ({ input }) => ({
    id: input.id, version: input.version, by: input.by, options: input.options,
    fromVersion: null, plan: null, step: 'validate', excluded: [], waveIndex: 0, touched: [],
    stepStartedAt: input.at, startedAt: input.at, finishedAt: null, approvedBy: null, reason: null, failedStep: null,
    verification: null,
  }),
  initial: 'running',
  states: {
    running: {
      initial: 'validating',
      on: {
        ABORT: [
          { guard: 'touchedAny', target: 'rollingBack', actions: 'recordAbort' },
          { target: 'failed', actions: ['recordAbort', assign(({ event }) => ({ finishedAt: event.at }))] },
        ],
      },
      states: {
        validating: {
          entry: assign({ step: 'validate' }),
          invoke: {
            id: 'validate', src: 'validate',
            input: ({ context }) => ({ id: context.id, version: context.version, options: context.options }),
            onDone: {
              target: 'verifying',
              actions: assign(({ event }) => ({ fromVersion: event.output.fromVersion, plan: event.output.plan, excluded: event.output.excluded, ...stamp(event.output.at) })),
            },
            onError: { target: '#promotion.failed', actions: ['recordFailure', 'finish'] },
          },
        },
        verifying: {
          entry: assign({ step: 'verify' }),
          invoke: {
            id: 'verify', src: 'verify',
            input: ({ context }) => ({ version: context.version }),
            onDone: [
              { guard: 'approvalRequired', target: 'awaitingApproval', actions: assign(({ event }) => ({ verification: event.output.summary, ...stamp(event.output.at) })) },
              { target: 'canary', actions: assign(({ event }) => ({ verification: event.output.summary, ...stamp(event.output.at) })) },
            ],
            onError: { target: '#promotion.failed', actions: ['recordFailure', 'finish'] },
          },
        },
        awaitingApproval: {
          entry: assign({ step: 'approval' }),
          on: { APPROVE: { target: 'canary', actions: assign(({ event }) => ({ approvedBy: event.by, ...stamp(event.at) })) } },
        },
        canary: {
          entry: [
            assign(({ context }) => ({ step: 'canary', touched: [...context.touched, ...(context.plan?.canary ?? [])] })),
            { type: 'setDesired', params: ({ context }) => ({ step: 'canary', edges: context.plan?.canary ?? [], version: context.version }) },
          ],
          invoke: {
            id: 'acks', src: 'awaitAcks',
            input: ({ context }) => ({
              step: 'canary', edges: context.plan?.canary ?? [], version: context.version, since: context.stepStartedAt,
              deadlineAt: context.stepStartedAt + context.options.ackTimeoutMs,
            }),
            onDone: { target: 'canarySoak', actions: assign(({ event }) => stamp(event.output.at)) },
            onError: { target: '#promotion.rollingBack', actions: 'recordFailure' },
          },
        },
        canarySoak: {
          entry: assign({ step: 'canary soak' }),
          invoke: {
            id: 'soak', src: 'soak',
            input: ({ context }) => ({
              step: 'canary soak', edges: context.touched, version: context.version,
              until: context.stepStartedAt + context.options.soakMs, gates: context.options.gates,
            }),
            onDone: [
              { guard: 'hasWaves', target: 'wave', actions: assign(({ event }) => ({ waveIndex: 0, ...stamp(event.output.at) })) },
              { target: '#promotion.done', actions: 'finish' },
            ],
            onError: { target: '#promotion.rollingBack', actions: 'recordFailure' },
          },
        },
        wave: {
          entry: [
            assign(({ context }) => ({ step: `wave ${context.waveIndex + 1}`, touched: [...context.touched, ...wave(context)] })),
            { type: 'setDesired', params: ({ context }) => ({ step: context.step, edges: wave(context), version: context.version }) },
          ],
          invoke: {
            id: 'acks', src: 'awaitAcks',
            input: ({ context }) => ({
              step: context.step, edges: wave(context), version: context.version, since: context.stepStartedAt,
              deadlineAt: context.stepStartedAt + context.options.ackTimeoutMs,
            }),
            onDone: { target: 'waveSoak', actions: assign(({ event }) => stamp(event.output.at)) },
            onError: { target: '#promotion.rollingBack', actions: 'recordFailure' },
          },
        },
        waveSoak: {
          entry: assign(({ context }) => ({ step: `wave ${context.waveIndex + 1} soak` })),
          invoke: {
            id: 'soak', src: 'soak',
            input: ({ context }) => ({
              step: context.step, edges: context.touched, version: context.version,
              until: context.stepStartedAt + context.options.waveSoakMs, gates: context.options.gates,
            }),
            onDone: [
              { guard: 'hasMoreWaves', target: 'wave', actions: assign(({ context, event }) => ({ waveIndex: context.waveIndex + 1, ...stamp(event.output.at) })) },
              { target: '#promotion.done', actions: 'finish' },
            ],
            onError: { target: '#promotion.rollingBack', actions: 'recordFailure' },
          },
        },
      },
    },
    rollingBack: {
      entry: [
        assign({ step: 'rollback' }),
        { type: 'setDesired', params: ({ context }) => ({ step: 'rollback', edges: context.touched, version: context.fromVersion }) },
      ],
      invoke: {
        id: 'rollback', src: 'awaitAcks',
        input: ({ context }) => ({
          step: 'rollback', edges: context.touched, version: context.fromVersion, since: context.stepStartedAt,
          deadlineAt: context.stepStartedAt + context.options.rollbackTimeoutMs,
        }),
        onDone: {
          target: 'rolledBack',
          actions: [
            'finish',
            assign(({ context }) => ({
              reason: context.fromVersion === null
                ? `${context.reason}; no previous version: ${context.touched.join(', ')} keep their last-good bundle`
                : `${context.reason}; rolled back ${context.touched.length} edge(s) to version ${context.fromVersion}`,
            })),
          ],
        },
        onError: {
          target: 'failed',
          actions: [
            'finish',
            assign(({ context, event }) => ({ reason: `${context.reason}; rollback incomplete: ${failureOf(event.error, context).reason}` })),
          ],
        },
      },
    },
    done: { type: 'final', entry: assign({ step: 'done' }) },
    rolledBack: { type: 'final' },
    failed: { type: 'final' },
  },
});

/** The machine's type, for the runner and tests. */
export type PromotionMachine = typeof promotionMachine;

/** Short status of a snapshot value: `validating`, `canary`, `wave-2-soak`, `rolling-back`, `done`, … */
export function statusOf(value: unknown, ctx: Pick<PromotionContext, 'waveIndex'>): string {
  const leaf = typeof value === 'string' ? value : Object.values(value as Record<string, string>)[0]!;
  switch (leaf) {
    case 'awaitingApproval': return 'awaiting-approval';
    case 'canarySoak': return 'canary-soak';
    case 'wave': return `wave-${ctx.waveIndex + 1}`;
    case 'waveSoak': return `wave-${ctx.waveIndex + 1}-soak`;
    case 'rollingBack': return 'rolling-back';
    case 'rolledBack': return 'rolled-back';
    default: return leaf;
  }
}

/** Statuses after which nothing happens any more. */
export const FINAL_STATUSES: readonly string[] = ['done', 'rolled-back', 'failed'];

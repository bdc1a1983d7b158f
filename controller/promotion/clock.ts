/** The injected clocks: the wall clock for production, a virtual one for tests. */
import type { Clock } from './types.ts';

// arm() starts the wait and returns how to cancel it.
const abortable = (signal: AbortSignal | undefined, arm: (done: () => void) => () => void): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(signal.reason); return; }
    const disarm = arm(() => { signal?.removeEventListener('abort', onAbort); resolve(); });
    const onAbort = () => { disarm(); reject(signal!.reason); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** The wall clock: Date.now() and setTimeout. */
export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => abortable(signal, (done) => {
    const t = setTimeout(done, Math.max(0, ms));
    return () => clearTimeout(t);
  }),
};

/**
 * A virtual clock starting at `start` (ms): `sleep(ms)` resolves on the next turn of the event loop and moves
 * the time forward to (time of the call + ms) — never back — so a 10-minute soak polling every second takes
 * 600 loop turns, not 10 minutes. Concurrent sleepers overlap like real ones: two loops sleeping 1 s each
 * advance the time by about 1 s per round, not 2 s.
 * @example const clock = virtualClock(Date.UTC(2026, 0, 1)); await clock.sleep(600_000); clock.now() // +10 min
 */
export function virtualClock(start = 0): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) { now += ms; },
    sleep: (ms, signal) => {
      const wake = now + Math.max(0, ms);
      return abortable(signal, (done) => {
        const t = setImmediate(() => { now = Math.max(now, wake); done(); });
        return () => clearImmediate(t);
      });
    },
  };
}

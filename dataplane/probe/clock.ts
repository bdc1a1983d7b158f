/**
 * The time sources the probe code is driven by, injected so tests and replays run hours of simulated
 * time in milliseconds. The agent's clock (dataplane/agent/clock.ts) satisfies {@link Clock} as it is.
 */

/** A clock reading milliseconds (fractional allowed). */
export interface Clock {
  now(): number;
}

/** Timers, injectable like the clock. Node's global setTimeout/clearTimeout satisfy it. */
export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The host clock. */
export const hostClock: Clock = { now: () => Date.now() };

/** The host timers. */
export const hostTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/**
 * A manual clock and timer wheel for tests and replays: `advance(ms)` moves time forward and runs every
 * timer that falls due, in order. Example: `const v = new VirtualTime(); v.setTimeout(f, 50); v.advance(100)`.
 */
export class VirtualTime implements Clock, Timers {
  private t: number;
  private seq = 0;
  private queue: { at: number; seq: number; fn: () => void }[] = [];

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const h = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.queue.push(h);
    return h;
  }

  clearTimeout(handle: unknown): void {
    const i = this.queue.indexOf(handle as (typeof this.queue)[number]);
    if (i >= 0) this.queue.splice(i, 1);
  }

  /** Move time forward by `ms`, running due timers (including ones they schedule) in time order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let best = -1;
      for (let i = 0; i < this.queue.length; i++) {
        const q = this.queue[i]!;
        if (q.at <= end && (best < 0 || q.at < this.queue[best]!.at || (q.at === this.queue[best]!.at && q.seq < this.queue[best]!.seq))) best = i;
      }
      if (best < 0) break;
      const [q] = this.queue.splice(best, 1);
      this.t = Math.max(this.t, q!.at);
      q!.fn();
    }
    this.t = end;
  }
}

/**
 * The agent's clock, injectable so timestamp logic (probe timestamps, bundle times, telemetry) can be run
 * against the skew real edges have. On a real edge the agent uses the host clock ({@link realClock}); the
 * twin starts agents with `--clock-offset MS --clock-drift PPM`, giving them a {@link skewedClock}.
 */

/** A source of time. Both readings are in milliseconds. */
export interface Clock {
  /** Wall-clock time, ms since the Unix epoch (like `Date.now()`, fractional allowed). */
  now(): number;
  /** Monotonic time in ms from an arbitrary origin (like `performance.now()`); never goes backwards. */
  monotonic(): number;
}

/** The host's clocks: `Date.now()` and `performance.now()`. */
export const realClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};

/** How a skewed clock departs from its base: offset in ms at start, drift in parts per million. */
export interface ClockSkew {
  /** ms added to the base clock's wall time at the moment the skewed clock is made (negative: behind). */
  offsetMs: number;
  /** Rate error in ppm: +50 runs 50 µs per second fast. */
  driftPpm: number;
}

/**
 * A clock that reads `base.now() at start + offsetMs + elapsed × (1 + driftPpm·1e-6)`, elapsed measured on
 * the base's monotonic clock (so a step of the host's wall clock does not leak in). Its monotonic reading
 * drifts at the same rate. Example: `skewedClock({ offsetMs: 150, driftPpm: 50 })` reads 150 ms ahead at
 * start and 150.18 ms ahead an hour later.
 */
export function skewedClock(skew: ClockSkew, base: Clock = realClock): Clock & { readonly skew: ClockSkew } {
  const wall0 = base.now();
  const mono0 = base.monotonic();
  const rate = 1 + skew.driftPpm * 1e-6;
  const elapsed = () => (base.monotonic() - mono0) * rate;
  return {
    skew: { ...skew },
    now: () => wall0 + skew.offsetMs + elapsed(),
    monotonic: () => mono0 + elapsed(),
  };
}

/** The host clock when there is no skew (a harmless no-op on real edges), else a skewed one. */
export function clockFor(skew: Partial<ClockSkew> = {}, base: Clock = realClock): Clock {
  const s = { offsetMs: skew.offsetMs ?? 0, driftPpm: skew.driftPpm ?? 0 };
  return s.offsetMs === 0 && s.driftPpm === 0 ? base : skewedClock(s, base);
}

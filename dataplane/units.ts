/**
 * Units used in every user-written file, parsed into one base unit each:
 * durations → milliseconds ("20ms", "1.5s", "250us", "2m"), rates → bits per second ("100mbit", "1gbit",
 * "64kbit", "500bps"), sizes → bytes ("64kb", "1500b", "1mb"; k = 1000, ki = 1024), percentages → a
 * fraction ("1%", "0.5%"). zod schemas for each accept the string form, or a bare number in the base unit.
 */
import { z } from 'zod';

const NUM = String.raw`(\d+(?:\.\d+)?|\.\d+)`;

const DURATION: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const RATE: Record<string, number> = {
  bit: 1, bps: 1, kbit: 1e3, kbps: 1e3, mbit: 1e6, mbps: 1e6, gbit: 1e9, gbps: 1e9, tbit: 1e12,
};
const SIZE: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, k: 1e3, m: 1e6, g: 1e9,
};

function parseWith(table: Record<string, number>, s: string): number | undefined {
  const m = new RegExp(`^${NUM}\\s*([a-zµ]+)$`, 'i').exec(s.trim());
  if (!m) return undefined;
  const f = table[m[2]!.toLowerCase()];
  return f === undefined ? undefined : Number(m[1]) * f;
}

/** "20ms" → 20. Returns undefined when the text is not a duration. */
export const parseDuration = (s: string) => parseWith(DURATION, s);
/** "100mbit" → 100_000_000 (bits/s). */
export const parseRate = (s: string) => parseWith(RATE, s);
/** "64kb" → 64_000 (bytes). */
export const parseSize = (s: string) => parseWith(SIZE, s);
/** "1.5%" → 0.015. */
export function parsePercent(s: string): number | undefined {
  const m = new RegExp(`^${NUM}\\s*%$`).exec(s.trim());
  return m ? Number(m[1]) / 100 : undefined;
}

function unitSchema(name: string, example: string, parse: (s: string) => number | undefined, max?: number) {
  return z.union([z.number().nonnegative(), z.string()]).transform((v, ctx) => {
    const n = typeof v === 'number' ? v : parse(v);
    if (n === undefined || !Number.isFinite(n)) {
      ctx.addIssue({ code: 'custom', message: `expected a ${name} like "${example}", got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    if (max !== undefined && n > max) {
      ctx.addIssue({ code: 'custom', message: `expected a ${name} of at most ${max * (name === 'percentage' ? 100 : 1)}${name === 'percentage' ? '%' : ''}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return n;
  });
}

/** Duration in milliseconds; accepts "20ms", "1.5s" or a number of milliseconds. */
export const Duration = () => unitSchema('duration', '20ms', parseDuration);
/** Rate in bits per second; accepts "100mbit", "1gbit" or a number of bit/s. */
export const Rate = () => unitSchema('rate', '100mbit', parseRate);
/** Size in bytes; accepts "64kb", "1500b" or a number of bytes. */
export const Size = () => unitSchema('size', '64kb', parseSize);
/** Fraction 0..1; accepts "1%" or a number already in 0..1. */
export const Percent = () => unitSchema('percentage', '1%', (s) => parsePercent(s), 1);

/** Format bits/s for people: 100000000 → "100mbit". */
export function formatRate(bps: number): string {
  for (const [u, f] of [['gbit', 1e9], ['mbit', 1e6], ['kbit', 1e3]] as const) if (bps >= f && bps % (f / 1000) === 0) return `${+(bps / f).toFixed(3)}${u}`;
  return `${bps}bit`;
}

/**
 * Recorded traces: a CSV file of time, delay, loss (optionally jitter and rate) turned into schedule
 * steps. A header row names the columns (`time,delay,loss`, any order, `jitter` and `rate` optional);
 * without one the columns are time, delay, loss. Values take the lab's units ("1.5s", "20ms", "1%",
 * "20mbit") or bare numbers in the base unit (ms for time/delay/jitter, a fraction for loss, bit/s for
 * rate). Lines starting with "#" and empty lines are skipped.
 *
 *   time,delay,loss
 *   0s,20ms,0%
 *   10s,80ms,2%
 */
import { readFileSync } from 'node:fs';
import { InputError, type InputIssue } from '../../dataplane/validate.ts';
import { parseDuration, parsePercent, parseRate } from '../../dataplane/units.ts';
import type { ImpairStep } from '../lab/schema.ts';

const COLUMNS = ['time', 'delay', 'loss', 'jitter', 'rate'] as const;
type Column = (typeof COLUMNS)[number];

function num(s: string): number | undefined {
  return /^\s*-?(\d+(\.\d+)?|\.\d+)\s*$/.test(s) ? Number(s) : undefined;
}

const PARSE: Record<Column, (s: string) => number | undefined> = {
  time: (s) => num(s) ?? parseDuration(s),
  delay: (s) => num(s) ?? parseDuration(s),
  jitter: (s) => num(s) ?? parseDuration(s),
  loss: (s) => { const n = num(s) ?? parsePercent(s); return n !== undefined && n <= 1 ? n : undefined; },
  rate: (s) => num(s) ?? parseRate(s),
};
const EXPECT: Record<Column, string> = {
  time: 'a time like "1.5s" or ms', delay: 'a duration like "20ms"', jitter: 'a duration like "2ms"',
  loss: 'a percentage like "1%" or a fraction 0..1', rate: 'a rate like "20mbit"',
};

/**
 * Parse trace CSV text into schedule steps sorted by time. Throws {@link InputError} naming `file`, the
 * line (as key path `line N`) and the column on bad input.
 * Example: `parseTrace("time,delay,loss\n0,20,0\n1000,40,0.01\n", "t.csv")` →
 * `[{at: 0, delay: 20, loss: 0}, {at: 1000, delay: 40, loss: 0.01}]`.
 */
export function parseTrace(text: string, file: string): ImpairStep[] {
  const issues: InputIssue[] = [];
  const steps: ImpairStep[] = [];
  let cols: Column[] | undefined;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const cells = line.split(',').map((c) => c.trim());
    const at = [`line ${i + 1}`];
    if (!cols) {
      if (cells.every((c) => /^[a-z_]+$/i.test(c))) {
        const bad = cells.filter((c) => !COLUMNS.includes(c.toLowerCase() as Column));
        if (bad.length) { issues.push({ path: at, line: i + 1, message: `unknown column ${bad.map((b) => JSON.stringify(b)).join(', ')} (known: ${COLUMNS.join(', ')})` }); cols = []; return; }
        cols = cells.map((c) => c.toLowerCase() as Column);
        if (!cols.includes('time')) issues.push({ path: at, line: i + 1, message: 'expected a "time" column' });
        return;
      }
      cols = ['time', 'delay', 'loss'];
    }
    if (cells.length !== cols.length) { issues.push({ path: at, line: i + 1, message: `expected ${cols.length} values (${cols.join(', ')}), got ${cells.length}` }); return; }
    const step: Record<string, number> = {};
    cols.forEach((c, j) => {
      const v = PARSE[c](cells[j]!);
      if (v === undefined || v < 0) issues.push({ path: [...at, c], line: i + 1, message: `expected ${EXPECT[c]}, got ${JSON.stringify(cells[j])}` });
      else step[c === 'time' ? 'at' : c] = v;
    });
    steps.push(step as unknown as ImpairStep);
  });
  if (!issues.length && !steps.length) issues.push({ path: [], message: 'the trace has no rows' });
  if (issues.length) throw new InputError(file, issues);
  return steps.sort((a, b) => a.at - b.at);
}

/** Read and parse a trace file; an unreadable file is an {@link InputError} naming the lab key that points at it. */
export function loadTrace(file: string, from: { file: string; path: (string | number)[] }): ImpairStep[] {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) {
    throw new InputError(from.file, [{ path: from.path, message: `cannot read trace file ${file}: ${(e as Error).message}` }], { cause: e });
  }
  return parseTrace(text, file);
}

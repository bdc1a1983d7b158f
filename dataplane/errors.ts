/**
 * Input errors without a YAML dependency (the edge agent imports only this): {@link InputError} naming
 * file, key path and expectation, and {@link validate} turning zod failures into one. YAML parsing with
 * line numbers lives in validate.ts, which re-exports everything here.
 */
import type { z } from 'zod';

/** Exit code for invalid input (the CLI contract: 0 pass, 1 fail, 2 bad input, 3 twin not trustworthy). */
export const EXIT_BAD_INPUT = 2;

/** One problem in one input file. */
export interface InputIssue {
  /** Key path as a list, e.g. `['topology', 'links', 3, 'endpoints', 1]`. */
  path: (string | number)[];
  /** What was wrong and what was expected. */
  message: string;
  /** 1-based line in the file, when known. */
  line?: number;
}

/** Invalid user input: names the file, the key path(s) and the expectation. Exit code 2. */
export class InputError extends Error {
  override name = 'InputError';
  readonly exitCode = EXIT_BAD_INPUT;
  constructor(readonly file: string, readonly issues: InputIssue[], options?: { cause?: unknown }) {
    super(issues.map((i) => formatIssue(file, i)).join('\n'), options);
  }
}

export const isInputError = (e: unknown): e is InputError => e instanceof InputError;

/** `a.b[3].c` from `['a', 'b', 3, 'c']`. */
export function formatPath(path: readonly (string | number | symbol)[]): string {
  let s = '';
  for (const p of path) {
    if (typeof p === 'number') s += `[${p}]`;
    else if (typeof p === 'string' && /^[A-Za-z_][\w-]*$/.test(p)) s += s ? `.${p}` : p;
    else s += `[${JSON.stringify(String(p))}]`;
  }
  return s || '(top level)';
}

function formatIssue(file: string, i: InputIssue): string {
  return `${file}${i.line ? `:${i.line}` : ''}: ${formatPath(i.path)}: ${i.message}`;
}

/** A parsed YAML/JSON document that can map key paths back to line numbers. */
export interface SourceDoc {
  file: string;
  data: unknown;
  lineOf(path: (string | number)[]): number | undefined;
}

/** Turn zod issues into {@link InputIssue}s, with line numbers when a source document is known. */
export function zodIssues(error: z.ZodError, src?: SourceDoc): InputIssue[] {
  return error.issues.map((iss) => {
    const path = iss.path.filter((p): p is string | number => typeof p !== 'symbol');
    return { path, message: describeZodIssue(iss), line: src?.lineOf(path) };
  });
}

function describeZodIssue(iss: z.core.$ZodIssue): string {
  switch (iss.code) {
    case 'unrecognized_keys':
      return `unknown key${iss.keys.length > 1 ? 's' : ''} ${iss.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    case 'invalid_type':
      return iss.message.startsWith('Invalid input') ? `expected ${iss.expected}` : iss.message;
    default:
      return iss.message;
  }
}

/**
 * Validate `data` against `schema`; on failure throw an {@link InputError} listing every issue.
 * `src` (from {@link readYamlFile}) adds line numbers.
 */
export function validate<S extends z.ZodType>(schema: S, data: unknown, file: string, src?: SourceDoc): z.output<S> {
  const r = schema.safeParse(data);
  if (!r.success) throw new InputError(file, zodIssues(r.error, src));
  return r.data;
}

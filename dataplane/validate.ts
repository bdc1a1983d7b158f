/**
 * Validation primitives shared by every file a user (or a controller) writes: labs, intents, scenarios and
 * bundles. One schema per file kind is the source of truth; this module turns its failures into one clear
 * message naming the file, the key path and what was expected, e.g.
 *
 *   labs/x.yaml: topology.links[3].endpoints[1]: node "edge9" is not defined (known: edge1, edge2, hub)
 *
 * Callers exit with code 2 on an {@link InputError} and change nothing.
 */
import { readFileSync } from 'node:fs';
import { parseDocument, isMap, isSeq, isScalar, LineCounter } from 'yaml';
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

/** Parse YAML (or JSON, a subset) text; syntax errors become an {@link InputError} with a line number. */
export function parseYaml(text: string, file: string): SourceDoc {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length) {
    throw new InputError(file, doc.errors.map((e) => ({
      path: [], line: lc.linePos(e.pos[0]).line, message: `YAML syntax: ${e.message.split('\n')[0]}`,
    })));
  }
  return {
    file,
    data: doc.toJS({ maxAliasCount: 1000 }),
    lineOf(path) {
      let node: unknown = doc.contents;
      let last: unknown = node;
      for (const key of path) {
        if (isMap(node)) {
          const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
          if (!pair) break;
          last = pair.key;
          node = pair.value;
        } else if (isSeq(node) && typeof key === 'number') {
          node = node.items[key];
        } else break;
        if (node) last = node;
      }
      const range = (last as { range?: [number, number, number] } | undefined)?.range;
      return range ? lc.linePos(range[0]).line : undefined;
    },
  };
}

/** Read and parse a YAML/JSON file; an unreadable file is an {@link InputError} too. */
export function readYamlFile(file: string): SourceDoc {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(file, [{ path: [], message: `cannot read file: ${(e as Error).message}` }], { cause: e });
  }
  return parseYaml(text, file);
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

/**
 * Validation primitives shared by every file a user (or a controller) writes: labs, intents, scenarios and
 * bundles. One schema per file kind is the source of truth; failures become one clear message naming the
 * file, the key path (with its line) and what was expected, e.g.
 *
 *   labs/x.yaml:12: topology.links[3].endpoints[1]: node "edge9" is not defined (known: edge1, edge2, hub)
 *
 * Callers exit with code 2 on an {@link InputError} and change nothing. The error types live in errors.ts
 * (no YAML dependency, for the edge agent); this module adds YAML parsing with line numbers.
 */
import { readFileSync } from 'node:fs';
import { parseDocument, isMap, isSeq, isScalar, LineCounter } from 'yaml';
import { InputError, type SourceDoc } from './errors.ts';

export * from './errors.ts';

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


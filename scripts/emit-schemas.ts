/**
 * Writes the JSON Schemas editors use, each emitted from its zod schema (the source of truth):
 *   controller/intent/intent.schema.json   (intent files)
 *   labs/lab.schema.json                   (lab files)
 *   scenarios/scenario.schema.json         (scenario files)
 * Run: npx tsx scripts/emit-schemas.ts   — prints each file it wrote. A test checks the committed files
 * equal what the schemas emit now. Add a file kind by adding an entry to `schemaFiles`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { intentJsonSchema } from '../controller/intent/index.ts';
import { labJsonSchema } from '../twin/lab/json-schema.ts';
import { scenarioJsonSchema } from '../scenarios/json-schema.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** One emitted file: its path relative to the repository root and the function producing its schema. */
export interface SchemaFile { path: string; schema: () => unknown }

/** Every JSON Schema file the repository commits. */
export const schemaFiles: SchemaFile[] = [
  { path: 'controller/intent/intent.schema.json', schema: intentJsonSchema },
  { path: 'labs/lab.schema.json', schema: labJsonSchema },
  { path: 'scenarios/scenario.schema.json', schema: scenarioJsonSchema },
];

/** The exact text written for a schema (2-space JSON and a final newline). */
export const schemaText = (schema: unknown) => `${JSON.stringify(schema, null, 2)}\n`;

/** Write every schema file (or only `files`); returns the repository-relative paths written. */
export function emitSchemas(files: SchemaFile[] = schemaFiles): string[] {
  for (const f of files) writeFileSync(join(root, f.path), schemaText(f.schema()));
  return files.map((f) => f.path);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const p of emitSchemas()) console.log(`wrote ${p}`);
}

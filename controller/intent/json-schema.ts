/** JSON Schema of the intent file for editors (YAML language servers), emitted from the zod schema. */
import { z } from 'zod';
import { IntentDocument } from './schema.ts';

/** `$id` of the emitted schema. */
export const INTENT_SCHEMA_ID = 'https://patronus.dev/schemas/intent-v1.json';

/**
 * The intent file's JSON Schema (draft 2020-12), describing the input form: units as strings or numbers,
 * short forms allowed, defaulted fields optional. Cross-reference rules are not expressible there.
 * Committed as controller/intent/intent.schema.json by scripts/emit-schemas.ts.
 */
export function intentJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(IntentDocument, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  const { $schema, ...rest } = schema;
  return { $schema, $id: INTENT_SCHEMA_ID, title: 'Patronus intent v1', ...rest };
}

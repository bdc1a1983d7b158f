/** JSON Schema of the lab file for editors (YAML language servers), emitted from the zod schema. */
import { z } from 'zod';
import { LabFile } from './schema.ts';

export const LAB_SCHEMA_ID = 'https://patronus.dev/schemas/lab-v1.json';

/**
 * The lab file's JSON Schema (draft 2020-12) in its input form: units as strings or numbers, short and
 * typed endpoints, defaulted fields optional. Reference checks (nodes named by links exist, …) are not
 * expressible there; `patronus twin validate` does them. Committed as labs/lab.schema.json.
 */
export function labJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(LabFile, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  const { $schema, ...rest } = schema;
  return { $schema, $id: LAB_SCHEMA_ID, title: 'Patronus lab', ...rest };
}

/** JSON Schema of the scenario file for editors (YAML language servers), emitted from the zod schema. */
import { z } from 'zod';
import { ScenarioDocument } from './schema.ts';

/** `$id` of the emitted schema. */
export const SCENARIO_SCHEMA_ID = 'https://patronus.dev/schemas/scenario-v1.json';

/**
 * The scenario file's JSON Schema (draft 2020-12), describing the input form (unit strings or numbers,
 * defaulted fields optional). Cross-references (hosts, endpoints, classes) are not expressible there.
 * Committed as scenarios/scenario.schema.json by scripts/emit-schemas.ts.
 */
export function scenarioJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(ScenarioDocument, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  const { $schema, ...rest } = schema;
  return { $schema, $id: SCENARIO_SCHEMA_ID, title: 'Patronus scenario v1', ...rest };
}

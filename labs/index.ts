/**
 * labs/ — lab files: physical networks to emulate, one folder per lab (`lab.yaml`, usually an
 * `intent.yaml` beside it). Each lab is paired with a test of the same name under test/labs/.
 * `labs/lab.schema.json` is the JSON Schema editors use, emitted from the zod schema in twin/lab/.
 */
import { fileURLToPath } from 'node:url';

/** Absolute path of the labs/ folder. */
export const labsDir = fileURLToPath(new URL('.', import.meta.url));

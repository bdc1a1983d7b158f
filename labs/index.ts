/**
 * labs/ — lab files: physical networks to emulate, one folder per lab (`lab.yaml`, usually with an
 * `intent.yaml` beside it). Each lab is paired with a test of the same name under test/labs/.
 * `labs/lab.schema.json` is the JSON Schema editors use, emitted from the zod schema in twin/lab/.
 */
import { join } from 'node:path';
import { packageRoot } from '../dataplane/index.ts';

/** Absolute path of the lab file of a lab shipped in labs/, e.g. labFile('two-site-dual-wan'). */
export const labFile = (name: string) => join(packageRoot(), 'labs', name, 'lab.yaml');

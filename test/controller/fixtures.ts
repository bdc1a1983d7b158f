/** Shared helpers of the controller tests: fixtures (inventory + intent) and compiling intent text. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Inventory } from '../../dataplane/inventory.ts';
import { readYamlFile, validate } from '../../dataplane/validate.ts';
import { compile, parseIntent, type CompileResult } from '../../controller/index.ts';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const fixturesDir = `${root}test/controller/fixtures`;
export const goldenDir = `${root}test/controller/golden`;

export interface Fixture { name: string; inventory: Inventory; intentFile: string; intentText: string }

/** Fixtures by name; the lab fixture uses the lab's own intent file. */
export const FIXTURES: Record<string, string> = {
  'two-site-dual-wan': 'labs/two-site-dual-wan/intent.yaml',
  'hub-spoke': 'test/controller/fixtures/hub-spoke/intent.yaml',
  templates: 'test/controller/fixtures/templates/intent.yaml',
};

export function loadInventory(name: string): Inventory {
  const file = `${fixturesDir}/${name}/inventory.yaml`;
  const src = readYamlFile(file);
  return validate(Inventory, src.data, file, src);
}

export function fixture(name: string): Fixture {
  const intentFile = FIXTURES[name];
  if (!intentFile) throw new Error(`no fixture ${name}`);
  return { name, inventory: loadInventory(name), intentFile, intentText: readFileSync(`${root}${intentFile}`, 'utf8') };
}

/** Parse `text` as the intent file `file` and compile it against `inventory`. */
export function compileText(text: string, inventory: Inventory, file = 'intent.yaml'): CompileResult {
  return compile(inventory, parseIntent(text, file), { intentFile: file, inventoryFile: 'inventory.yaml' });
}

/** node → hash. */
export const hashes = (r: CompileResult) => Object.fromEntries([...r.bundles].map(([n, b]) => [n, b.hash]));

/** Replace exactly one occurrence of `from` in `text` (fails loudly when the fixture changed). */
export function edit(text: string, from: string, to: string): string {
  const n = text.split(from).length - 1;
  if (n !== 1) throw new Error(`expected exactly one "${from}" in the fixture, found ${n}`);
  return text.replace(from, to);
}

/** The error message thrown by `fn` (fails when it does not throw). */
export function errorOf(fn: () => unknown): string {
  try { fn(); } catch (e) { return (e as Error).message; }
  throw new Error('expected an error, none was thrown');
}

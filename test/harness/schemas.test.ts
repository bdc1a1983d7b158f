import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { schemaFiles, schemaText } from '../../scripts/emit-schemas.ts';

for (const f of schemaFiles) {
  test(`the committed ${f.path} equals what its zod schema emits now`, () => {
    assert.fixture(readFileSync(f.path, 'utf8'), schemaText(f.schema()), 'run: npx tsx scripts/emit-schemas.ts');
  });
}

test('the lab JSON Schema is strict and requires name and topology', () => {
  const s = schemaFiles.find((f) => f.path === 'labs/lab.schema.json')!.schema() as { additionalProperties: boolean; required: string[] };
  assert.is(s.additionalProperties, false);
  assert.equal(s.required.sort(), ['name', 'topology']);
});

test.run();

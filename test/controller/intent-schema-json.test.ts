import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { intentJsonSchema, parseIntent } from '../../controller/index.ts';
import { schemaFiles, schemaText } from '../../scripts/emit-schemas.ts';
import { root } from './fixtures.ts';

test('the committed intent JSON Schema equals what the zod schema emits now (run scripts/emit-schemas.ts)', () => {
  const entry = schemaFiles.find((f) => f.path === 'controller/intent/intent.schema.json');
  assert.ok(entry, 'emit-schemas lists the intent schema');
  assert.fixture(readFileSync(`${root}${entry.path}`, 'utf8'), schemaText(entry.schema()), 'run: npx tsx scripts/emit-schemas.ts');
});

test('the JSON Schema is strict and names every section of the intent', () => {
  const s = intentJsonSchema() as { $id: string; additionalProperties: boolean; required: string[]; properties: Record<string, unknown> };
  assert.is(s.$id, 'https://patronus.dev/schemas/intent-v1.json');
  assert.is(s.additionalProperties, false);
  assert.equal(s.required.sort(), ['apiVersion', 'name']);
  assert.equal(Object.keys(s.properties).sort(), [
    'apiVersion', 'appClasses', 'bgp', 'description', 'name', 'probing', 'qosClasses', 'rollout', 'rules', 'segments', 'sites', 'slaClasses',
    'templates', 'topology', 'transports', 'wanopt',
  ]);
});

test('the smallest intent is apiVersion and name; every section has a default', () => {
  const i = parseIntent('apiVersion: patronus.dev/v1\nname: tiny\n', 'tiny.yaml');
  assert.equal(i.segments, { default: { name: 'default', id: 1 } });
  assert.equal(Object.keys(i.appClasses), ['default']);
  assert.equal(i.topology, { policy: 'hub-spoke', hubs: [], onDemand: { enabled: false, idleTimeout: 300_000 } });
  assert.equal([i.rules, i.sites, i.transports, i.bgp], [[], {}, {}, {}]);
  assert.equal(i.wanopt, { classes: [], fec: {}, ports: { intercept: 7770, session: 7771, fec: 7772 } });
});

test.run();

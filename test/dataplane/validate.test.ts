import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { parseYaml, validate, InputError, isInputError, formatPath } from '../../dataplane/validate.ts';

test('formats key paths the way users write them', () => {
  assert.is(formatPath(['topology', 'links', 3, 'endpoints', 1]), 'topology.links[3].endpoints[1]');
  assert.is(formatPath(['nodes', 'edge 1']), 'nodes["edge 1"]');
  assert.is(formatPath([]), '(top level)');
});

test('a YAML syntax error names the file and the line', () => {
  try {
    parseYaml('a: 1\nb: [1, 2\nc: 3\n', 'labs/x.yaml');
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.ok(isInputError(e));
    assert.match((e as Error).message, /^labs\/x\.yaml:\d+: \(top level\): YAML syntax: /);
  }
});

test('duplicate keys in YAML are an error, not a silent overwrite', () => {
  assert.throws(() => parseYaml('a: 1\na: 2\n', 'f.yaml'), (e: unknown) => isInputError(e) && /unique/i.test((e as Error).message));
});

test('schema failures name file, key path, line and expectation', () => {
  const src = parseYaml('name: x\ntopology:\n  nodes:\n    e1: {kind: 5, colour: red}\n', 'labs/x.yaml');
  const schema = z.object({ name: z.string(), topology: z.object({ nodes: z.record(z.string(), z.strictObject({ kind: z.string() })) }) });
  try {
    validate(schema, src.data, src.file, src);
    assert.unreachable('should have thrown');
  } catch (e) {
    assert.instance(e, InputError);
    const err = e as InputError;
    assert.is(err.exitCode, 2);
    assert.is(err.issues.length, 2);
    assert.match(err.message, 'labs/x.yaml:4: topology.nodes.e1.kind: expected string');
    assert.match(err.message, 'labs/x.yaml:4: topology.nodes.e1: unknown key "colour"');
  }
});

test.run();

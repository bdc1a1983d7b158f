/**
 * The intent's `rollout.commitConfirm`: validated with key paths, compiled into every bundle in ms, and absent
 * (bundles and their hashes unchanged) when the intent does not set it; the bundle schema bounds it as well.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileText, edit, errorOf, fixture, hashes } from './fixtures.ts';
import { Bundle } from '../../dataplane/bundle/index.ts';

const f = fixture('two-site-dual-wan');
const withRollout = (v: string) => edit(f.intentText, '\nrules:', `\nrollout:\n  commitConfirm: ${v}\nrules:`);

test('an intent without rollout compiles bundles without commitConfirmMs', () => {
  for (const { bundle } of compileText(f.intentText, f.inventory, f.intentFile).bundles.values()) assert.is(bundle.commitConfirmMs, undefined);
});

test('rollout.commitConfirm reaches every bundle in milliseconds and changes every bundle hash', () => {
  const plain = hashes(compileText(f.intentText, f.inventory, f.intentFile));
  const r = compileText(withRollout('45s'), f.inventory, f.intentFile);
  assert.ok(r.bundles.size >= 2);
  for (const { bundle } of r.bundles.values()) assert.is(bundle.commitConfirmMs, 45_000);
  for (const [node, h] of Object.entries(hashes(r))) assert.is.not(h, plain[node], `${node}: the deadline is part of the signed bundle`);
});

for (const [v, re] of [['500ms', /rollout\.commitConfirm.*at least 1s/s], ['11m', /rollout\.commitConfirm.*at most 10m/s], ['soon', /rollout\.commitConfirm.*expected a duration/s]] as const) {
  test(`rejects commitConfirm ${v} naming file and key path`, () => {
    const msg = errorOf(() => compileText(withRollout(v), f.inventory, 'i.yaml'));
    assert.match(msg, /i\.yaml/);
    assert.match(msg, re);
  });
}

test('the bundle schema refuses a deadline outside 1 s..10 min', () => {
  const b = [...compileText(withRollout('5s'), f.inventory, f.intentFile).bundles.values()][0]!.bundle;
  assert.ok(Bundle.safeParse(b).success);
  assert.not.ok(Bundle.safeParse({ ...b, commitConfirmMs: 999 }).success);
  assert.not.ok(Bundle.safeParse({ ...b, commitConfirmMs: 600_001 }).success);
});

test.run();

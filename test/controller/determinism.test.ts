import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { stringify } from 'yaml';
import { parseYaml } from '../../dataplane/validate.ts';
import { canonicalJson } from '../../dataplane/bundle/index.ts';
import { FIXTURES, compileText, fixture, hashes } from './fixtures.ts';

/** Every map's keys reversed, recursively (lists keep their order: rule and match order mean something). */
function reverseKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reverseKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reverseKeys(x)]));
  return v;
}

for (const name of Object.keys(FIXTURES)) {
  test(`${name}: compiling the same input twice gives identical bundles and hashes`, () => {
    const f = fixture(name);
    const a = compileText(f.intentText, f.inventory);
    const b = compileText(f.intentText, f.inventory);
    assert.equal(hashes(a), hashes(b));
    for (const [n, x] of a.bundles) assert.is(canonicalJson(x.bundle), canonicalJson(b.bundles.get(n)!.bundle));
  });

  test(`${name}: key order in the intent YAML does not change any hash`, () => {
    const f = fixture(name);
    const reordered = stringify(reverseKeys(parseYaml(f.intentText, 'x.yaml').data));
    assert.is.not(reordered, stringify(parseYaml(f.intentText, 'x.yaml').data));
    assert.equal(hashes(compileText(reordered, f.inventory)), hashes(compileText(f.intentText, f.inventory)));
  });

  test(`${name}: edge and interface order in the inventory does not change any hash`, () => {
    const f = fixture(name);
    const shuffled = { ...f.inventory, edges: [...f.inventory.edges].reverse().map((e) => ({ ...e, interfaces: [...e.interfaces].reverse() })) };
    assert.equal(hashes(compileText(f.intentText, shuffled)), hashes(compileText(f.intentText, f.inventory)));
  });
}

test('the hash is the sha256 of the bundle\'s canonical JSON', async () => {
  const { createHash } = await import('node:crypto');
  const f = fixture('two-site-dual-wan');
  for (const { bundle, hash } of compileText(f.intentText, f.inventory).bundles.values()) {
    assert.is(hash, createHash('sha256').update(canonicalJson(bundle)).digest('hex'));
  }
});

test('an IPv6 prefix written two ways compiles to the same bundles', () => {
  const f = fixture('two-site-dual-wan');
  const a = f.intentText.replace('lanPrefixes: [10.2.0.0/24]', 'lanPrefixes: [10.2.0.0/24, "2001:DB8:0:0::/64"]');
  const b = f.intentText.replace('lanPrefixes: [10.2.0.0/24]', 'lanPrefixes: [10.2.0.0/24, "2001:db8::/64"]');
  assert.equal(hashes(compileText(a, f.inventory)), hashes(compileText(b, f.inventory)));
});

test.run();

// timeout: 60
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { rejects } from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { parseIntent } from '../../controller/intent/index.ts';
import { openStore } from '../../controller/store/index.ts';
import { addVersion, diffIntents, diffInventories, diffVersions, rollbackTo, UnknownVersionError } from '../../controller/versions/index.ts';
import { verifySignedBundle } from '../../dataplane/bundle/index.ts';
import { InputError } from '../../dataplane/errors.ts';
import { edit, fixture } from './fixtures.ts';

const two = fixture('two-site-dual-wan');
const hub = fixture('hub-spoke');
const keys = generateKeyPairSync('ed25519');
const diff = (a: string, b: string) => diffIntents(parseIntent(a, 'a.yaml'), parseIntent(b, 'b.yaml'));
const summary = (a: string, b: string) => diff(a, b).map((c) => `${c.kind} ${c.path}`);

test('a push stores one signed bundle per edge that verifies with the controller key', async () => {
  const store = await openStore(':memory:');
  const r = await addVersion(store, { yaml: two.intentText, file: 'intent.yaml' }, { author: 'alice', message: 'first', inventory: two.inventory, signingKey: keys.privateKey });
  assert.equal([r.version.id, r.version.parent, r.version.author, r.version.message, r.blast], [1, null, 'alice', 'first', null]);
  assert.is(r.version.intentYaml, two.intentText);
  const stored = await store.listBundles(1);
  assert.equal(stored.map((b) => b.edge), [...r.bundles.keys()].sort());
  for (const b of stored) {
    assert.equal(verifySignedBundle(b.envelope, [keys.publicKey]), r.bundles.get(b.edge)!.bundle);
    assert.is(b.hash, r.bundles.get(b.edge)!.hash);
  }
  await store.close();
});

test('a malformed intent throws an InputError naming file and key path and stores nothing', async () => {
  const store = await openStore(':memory:');
  const bad = edit(two.intentText, 'latency: 150ms', 'latency: fast');
  await rejects(() => addVersion(store, { yaml: bad, file: 'intent.yaml' }, { author: 'a', message: '', inventory: two.inventory, signingKey: keys.privateKey }),
    (e: unknown) => e instanceof InputError && /^intent\.yaml:\d+: slaClasses\.voice\.latency: /.test(e.message));
  // Valid YAML that does not fit the inventory (a site without an edge) is refused the same way.
  const noEdge = edit(two.intentText, '  s2:\n', '  s3:\n    lanPrefixes: [10.3.0.0/24]\n  s2:\n');
  await rejects(() => addVersion(store, { yaml: noEdge, file: 'intent.yaml' }, { author: 'a', message: '', inventory: two.inventory, signingKey: keys.privateKey }),
    (e: unknown) => e instanceof InputError && /s3/.test(e.message));
  assert.equal(await store.listVersions(), []);
  await store.close();
});

test('rollback appends a new version restoring the old intent and its exact bundles', async () => {
  const store = await openStore(':memory:');
  const opts = { author: 'alice', inventory: two.inventory, signingKey: keys.privateKey };
  await addVersion(store, { yaml: two.intentText }, { ...opts, message: 'v1' });
  await addVersion(store, { yaml: edit(two.intentText, 'latency: 150ms', 'latency: 90ms') }, { ...opts, message: 'v2' });
  const r = await rollbackTo(store, 1, { ...opts, audit: { actor: 'alice' } });
  assert.equal([r.version.id, r.version.parent, r.version.restores, r.version.message], [3, 2, 1, 'rollback to version 1']);
  assert.is(r.version.intentHash, (await store.getVersion(1))!.intentHash);
  assert.equal((await store.listBundles(3)).map((b) => b.hash), (await store.listBundles(1)).map((b) => b.hash));
  assert.is(r.blast!.summary, 'changes the bundles of 2 of 2 edges');
  assert.equal((await store.listVersions()).map((v) => v.id), [3, 2, 1], 'history is append-only');
  const [audit] = await store.listAudit();
  assert.equal([audit!.action, audit!.target, (audit!.detail as { restores: number }).restores], ['intent.rollback', 'version:3', 1]);
  await rejects(() => rollbackTo(store, 9, opts), (e: unknown) => e instanceof UnknownVersionError && /no intent version 9 \(versions are 1…3\)/.test(e.message));
  await store.close();
});

test('each version keeps the inventory it was compiled against, and a diff says how the edges changed', async () => {
  const store = await openStore(':memory:');
  const opts = { author: 'alice', signingKey: keys.privateKey, message: 'm' };
  await addVersion(store, { yaml: two.intentText }, { ...opts, inventory: two.inventory, inventoryFile: 'labs/two-site-dual-wan/lab.yaml' });
  // edge2's internet circuit was renumbered and edge3 enrolled: same intent, new inventory.
  const inv2 = structuredClone(two.inventory);
  const wan1 = inv2.edges[1]!.interfaces.find((i) => i.name === 'wan1')!;
  wan1.ipv4 = ['100.64.9.6/30']; wan1.gateway = '100.64.9.5';
  inv2.edges.push({ ...structuredClone(inv2.edges[0]!), node: 'edge3', site: 's1' });
  await addVersion(store, { yaml: two.intentText }, { ...opts, inventory: inv2, inventoryFile: 'store:edges' });
  const [v1, v2] = [(await store.getVersion(1))!, (await store.getVersion(2))!];
  assert.equal(v1.inventory, two.inventory);
  assert.equal([v1.inventorySource, v2.inventorySource], ['labs/two-site-dual-wan/lab.yaml', 'store:edges']);
  const d = await diffVersions(store, 1, 2);
  assert.equal(d.changes, [], 'the intent did not change');
  assert.equal(d.inventory, { added: ['edge3'], removed: [], changed: [{ edge: 'edge2', fields: ['interfaces.wan1.gateway', 'interfaces.wan1.ipv4'] }] });
  assert.is(d.blast.summary, 'changes the bundles of 2 of 3 edges, adds 1', 'edge1 peers with the renumbered edge2');
  assert.equal(diffInventories(inv2, inv2), { added: [], removed: [], changed: [] });
  await store.close();
});

test('reformatting, comments and key order are no semantic change', () => {
  const reordered = edit(two.intentText, 'slaClasses:\n  voice:\n    latency: 150ms\n    jitter: 30ms\n    loss: 1%',
    'slaClasses:\n  voice: { loss: 1%, jitter: 30ms, latency: 150ms }  # same, flow style');
  assert.equal(diff(two.intentText, reordered), []);
});

test('a changed SLA bound is one change with its old and new value in base units', () => {
  assert.equal(diff(two.intentText, edit(two.intentText, 'loss: 1%', 'loss: 2%')), [
    { area: 'slaClasses', path: 'slaClasses.voice.loss', kind: 'changed', old: 0.01, new: 0.02 },
  ]);
});

test('transports, sites and segments: added, removed and changed entries by name', () => {
  const b = edit(edit(edit(hub.intentText, '  lte: { role: last-resort, metered: true, mtu: 1420, probeBudget: 16kbit }\n', ''),
    'inet: { bandwidth: { up: 100mbit, down: 500mbit } }', 'inet: { bandwidth: { up: 200mbit, down: 500mbit } }'),
  '  br3:\n    lanPrefixes: [10.3.0.0/24]\n', '  br3:\n    lanPrefixes: [10.3.0.0/24]\n  br4:\n    lanPrefixes: [10.4.0.0/24]\n');
  const noLte = b.replace(/, lte\]/g, ']');
  const changes = summary(hub.intentText, noLte);
  assert.ok(changes.includes('removed transports.lte'), changes.join('\n'));
  assert.ok(changes.includes('changed transports.inet.bandwidth.up'), changes.join('\n'));
  assert.ok(changes.includes('added sites.br4'), changes.join('\n'));
  assert.ok(changes.includes('changed rules[voice].paths.preferred'), changes.join('\n'));
  const seg = summary(hub.intentText, edit(hub.intentText, '  pci: { id: 30 }\n', '  pci: { id: 30 }\n  iot: { id: 40 }\n'));
  assert.equal(seg, ['added segments.iot']);
});

test('rules are matched by name: a removed rule, a changed rule and a reordering are reported as such', () => {
  const swapped = edit(two.intentText, `  - name: voice
    app: voip
    sla: voice
    qos: realtime
    service: overlay
    paths: { preferred: [mpls, inet] }
  - name: everything-else
    app: default
    qos: best-effort
    service: overlay
    paths: { preferred: [mpls, inet] }`, `  - name: everything-else
    app: default
    qos: best-effort
    service: overlay
    paths: { preferred: [mpls, inet] }
  - name: voice
    app: voip
    sla: voice
    qos: realtime
    service: overlay
    paths: { preferred: [inet, mpls] }`);
  assert.equal(diff(two.intentText, swapped), [
    { area: 'rules', path: 'rules[voice].paths.preferred', kind: 'changed', old: ['mpls', 'inet'], new: ['inet', 'mpls'] },
    { area: 'rules', path: 'rules(order)', kind: 'changed', old: ['voice', 'everything-else'], new: ['everything-else', 'voice'] },
  ]);
  const removed = diff(hub.intentText, edit(hub.intentText, `  - name: conferencing
    app: conferencing
    sla: video
    qos: interactive
    paths: { preferred: [inet, mpls] }
`, ''));
  assert.equal(removed.map((c) => `${c.kind} ${c.path}`), ['removed rules[conferencing]']);
  assert.is((removed[0]!.old as { app: string }).app, 'conferencing');
});

test.run();

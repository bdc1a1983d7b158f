// timeout: 60
/**
 * Revocation through the controller (docs/overlay.md, "Revocation"): the enrolled edges' reports
 * (controller/versions/inventory.ts) mark an edge whose every certificate is revoked, and the compiler gives
 * it no bundle and leaves its public key, paths and WireGuard peers out of every other edge's bundle — so the
 * next bundle removes its peers everywhere. An edge that renewed (old certificate revoked, new one valid) is
 * not revoked; an edge cannot clear the mark by reporting `revoked: false` itself.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compile, loadIntent } from '../../controller/index.ts';
import { openStore, type Store } from '../../controller/store/index.ts';
import { revokeEdgeCertificate } from '../../controller/pki/index.ts';
import { inventoryFromStore } from '../../controller/versions/inventory.ts';
import { addVersion, evictRevokedEdge } from '../../controller/versions/index.ts';
import { setDesired } from '../../controller/edgeapi/index.ts';
import { verifySignedBundle } from '../../dataplane/bundle/index.ts';
import { generateKeyPairSync } from 'node:crypto';
import { generatePrivateKey, publicKeyOf } from '../../dataplane/wg/index.ts';
import { labInventory, loadLab } from '../../twin/index.ts';

const intentFile = 'labs/nat-traversal/intent.yaml';
const intent = loadIntent(intentFile);
const lab = labInventory(loadLab('labs/nat-traversal/lab.yaml'));
const keys = new Map(lab.edges.map((e) => [e.node, publicKeyOf(generatePrivateKey())]));
let store: Store;

/** Every edge enrolled with one certificate (serial `C-<node>`) and its report including its WireGuard key. */
async function enrolAll(): Promise<void> {
  store = await openStore(':memory:');
  const t = Date.now();
  for (const e of lab.edges) {
    await store.upsertEdge(e.node, { site: e.site, enrolledAt: t, inventory: { interfaces: e.interfaces, wireguardKey: keys.get(e.node) }, inventoryAt: t });
    await store.addCertificate({ serial: `C-${e.node}`.toUpperCase(), edge: e.node, notBefore: t - 1000, notAfter: t + 86_400_000, pem: 'test' });
  }
}

async function compiled() {
  const src = await inventoryFromStore(store);
  return compile(src!.inventory, intent, { intentFile, inventoryFile: src!.file });
}

const keysIn = (b: unknown): string[] => JSON.stringify(b).match(/[A-Za-z0-9+/]{43}=/g) ?? [];

test.before(enrolAll);
test.after(async () => { await store.close(); });

test("before revocation s1's key is in its peers' bundles (the check below can fail)", async () => {
  const { bundles } = await compiled();
  assert.ok(bundles.has('s1'));
  assert.ok(keysIn(bundles.get('hub')!.bundle).includes(keys.get('s1')!), 'the hub peers with s1');
  assert.ok(bundles.get('hub')!.bundle.paths.some((p) => p.peerNode === 's1' && p.wireguard?.peerPublicKey === keys.get('s1')));
});

test("a revoked edge's key, paths and WireGuard peers are absent from every other bundle, and it gets none", async () => {
  assert.ok(await revokeEdgeCertificate(store, 'C-S1', 'device stolen', 'test'));
  const src = await inventoryFromStore(store);
  assert.is(src!.inventory.edges.find((e) => e.node === 's1')!.revoked, true);
  const { bundles, warnings } = await compiled();
  assert.not.ok(bundles.has('s1'), 'no bundle for the revoked edge');
  assert.equal([...bundles.keys()].sort(), ['hub', 's2', 's3']);
  for (const [node, { bundle }] of bundles) {
    assert.not.ok(keysIn(bundle).includes(keys.get('s1')!), `${node}'s bundle does not hold s1's key`);
    assert.equal(bundle.paths.filter((p) => p.peerNode === 's1'), [], `${node} has no path to s1`);
    assert.ok(bundle.paths.some((p) => p.wireguard?.peerPublicKey), `${node} keeps its other WireGuard peers`);
  }
  assert.ok(keysIn(bundles.get('hub')!.bundle).includes(keys.get('s2')!), 'the others still peer');
  assert.ok(warnings.some((w) => /^s1: revoked/.test(w)));
});

test('an edge whose old certificate is revoked but which renewed keeps its peers', async () => {
  const t = Date.now();
  assert.ok(await revokeEdgeCertificate(store, 'C-S2', 'superseded', 'test'));
  await store.addCertificate({ serial: 'C-S2-RENEWED', edge: 's2', notBefore: t - 1000, notAfter: t + 86_400_000, pem: 'test' });
  const { bundles } = await compiled();
  assert.ok(bundles.has('s2'));
  assert.ok(keysIn(bundles.get('hub')!.bundle).includes(keys.get('s2')!));
});

test('an edge cannot lift its own revocation by reporting revoked: false', async () => {
  const s1 = (await store.getEdge('s1'))!;
  await store.updateEdge('s1', { inventory: { ...(s1.inventory as object), revoked: false } });
  const { bundles } = await compiled();
  assert.not.ok(bundles.has('s1'));
  for (const { bundle } of bundles.values()) assert.not.ok(keysIn(bundle).includes(keys.get('s1')!));
});

test('revoking the last certificate evicts the edge fleet-wide: a new version without it, desired on every other edge', async () => {
  await store.close();
  await enrolAll();
  const signing = generateKeyPairSync('ed25519');
  const src = await inventoryFromStore(store);
  const v1 = await addVersion(store, { file: intentFile }, { author: 'alice', message: 'first', inventory: src!.inventory, inventoryFile: src!.file, signingKey: signing.privateKey });
  await setDesired(store, [...v1.bundles.keys()], v1.version.id);
  assert.is(await evictRevokedEdge(store, 's1', { signingKey: signing.privateKey, actor: 'test' }), null, 'nothing to do while s1 holds a valid certificate');
  assert.ok(await revokeEdgeCertificate(store, 'C-S1', 'device stolen', 'test'));
  const ev = (await evictRevokedEdge(store, 's1', { signingKey: signing.privateKey, actor: 'test' }))!;
  assert.is(ev.version, v1.version.id + 1);
  assert.equal(ev.edges, ['hub', 's2', 's3']);
  for (const e of ev.edges) {
    assert.is((await store.getEdge(e))!.desiredVersion, ev.version, `${e} desires the eviction version`);
    const b = (await store.getBundle(ev.version, e))!;
    assert.is(verifySignedBundle(b.envelope, [signing.publicKey]).paths.filter((p) => p.peerNode === 's1').length, 0, `${e}'s signed bundle has no path to s1`);
  }
  assert.is((await store.getEdge('s1'))!.desiredVersion, v1.version.id, 'the revoked edge is left where it was (it cannot fetch anything now)');
  assert.is((await store.getVersion(ev.version))!.intentYaml, v1.version.intentYaml, 'the same intent');
  assert.is(ev.blast!.summary, 'changes the bundles of 3 of 4 edges, removes 1');
  assert.is(await evictRevokedEdge(store, 's1', { signingKey: signing.privateKey, actor: 'test' }), null, 'idempotent');
  assert.equal((await store.listAudit({ action: 'edge.evict' })).map((a) => a.target), ['s1']);
});

test.run();

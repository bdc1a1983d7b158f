// timeout: 30
/**
 * The encrypted-path seam inventory → compiler → bundle (controller/compiler/wireguard.ts): a transport's
 * `encryption: wireguard` gives its paths a `wireguard` block with matching /31 ends and ports on both
 * edges; the peers' public keys come from the inventory (missing: a warning, no key); plaintext stays the
 * default; bad input is refused with the file and key path.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { compile, loadIntent, parseIntent } from '../../controller/index.ts';
import { InputError } from '../../dataplane/errors.ts';
import { Bundle } from '../../dataplane/bundle/schema.ts';
import { generatePrivateKey, publicKeyOf } from '../../dataplane/wg/index.ts';
import { labInventory, loadLab } from '../../twin/index.ts';

const inv = labInventory(loadLab('labs/encrypted-two-site/lab.yaml'));
const intentFile = 'labs/encrypted-two-site/intent.yaml';
const intent = loadIntent(intentFile);
const k1 = publicKeyOf(generatePrivateKey()), k2 = publicKeyOf(generatePrivateKey());
const withKeys = { ...inv, edges: inv.edges.map((e) => ({ ...e, wireguardKey: e.node === 'edge1' ? k1 : k2 })) };

test('only the encrypted transport\'s paths carry WireGuard, with matching ends on both edges', () => {
  const { bundles, warnings } = compile(withKeys, intent, { intentFile });
  assert.equal(warnings, []);
  const p1 = bundles.get('edge1')!.bundle.paths, p2 = bundles.get('edge2')!.bundle.paths;
  assert.is(p1.find((p) => p.transport === 'mpls')!.wireguard, undefined);
  const a = p1.find((p) => p.transport === 'inet')!, b = p2.find((p) => p.transport === 'inet')!;
  assert.equal(a.wireguard, { listenPort: 51820 + a.id, peerPort: 51820 + b.id, peerPublicKey: k2, address: '169.254.0.0', peerAddress: '169.254.0.1' });
  assert.equal(b.wireguard, { listenPort: 51820 + b.id, peerPort: 51820 + a.id, peerPublicKey: k1, address: '169.254.0.1', peerAddress: '169.254.0.0' });
  // No private key anywhere in a bundle: the only key an edge's bundle holds is its peer's public key.
  assert.equal(JSON.stringify(bundles.get('edge1')).match(/[A-Za-z0-9+/]{43}=/g), [k2]);
  assert.equal(JSON.stringify(bundles.get('edge2')).match(/[A-Za-z0-9+/]{43}=/g), [k1]);
});

test('a rotating edge\'s paths carry a second tunnel in the other slot; ending the rotation keeps that tunnel as it was', () => {
  const k1n = publicKeyOf(generatePrivateKey());
  const rotating = { ...inv, edges: withKeys.edges.map((e) => (e.node === 'edge1' ? { ...e, wireguardKeyNext: k1n } : e)) };
  const { bundles } = compile(rotating, intent, { intentFile });
  const a = bundles.get('edge1')!.bundle.paths.find((p) => p.transport === 'inet')!, b = bundles.get('edge2')!.bundle.paths.find((p) => p.transport === 'inet')!;
  assert.equal(a.wireguard!.next, { listenPort: 61820 + a.id, peerPort: 61820 + b.id, peerPublicKey: k2, address: '169.254.128.0', peerAddress: '169.254.128.1', keyGeneration: 1 });
  assert.equal(b.wireguard!.next, { listenPort: 61820 + b.id, peerPort: 61820 + a.id, peerPublicKey: k1n, address: '169.254.128.1', peerAddress: '169.254.128.0' });
  assert.is(a.wireguard!.listenPort, 51820 + a.id, 'the old tunnel is unchanged during the overlap');
  assert.is(b.wireguard!.peerPublicKey, k1);
  // The controller ends the rotation: the next key is edge1's key, one generation on.
  const done = { ...inv, edges: withKeys.edges.map((e) => (e.node === 'edge1' ? { ...e, wireguardKey: k1n, wireguardKeyGeneration: 1 } : e)) };
  const after = compile(done, intent, { intentFile }).bundles;
  const a2 = after.get('edge1')!.bundle.paths.find((p) => p.transport === 'inet')!, b2 = after.get('edge2')!.bundle.paths.find((p) => p.transport === 'inet')!;
  assert.equal(a2.wireguard, a.wireguard!.next, 'edge1 keeps the new tunnel exactly (port, /31, key generation)');
  assert.equal(b2.wireguard, b.wireguard!.next, 'so does edge2');
  // edge2 rotates next: back to slot 0 (generations 1 + 1).
  const second = { ...done, edges: done.edges.map((e) => (e.node === 'edge2' ? { ...e, wireguardKeyNext: publicKeyOf(generatePrivateKey()) } : e)) };
  const b3 = compile(second, intent, { intentFile }).bundles.get('edge2')!.bundle.paths.find((p) => p.transport === 'inet')!;
  assert.is(b3.wireguard!.listenPort, 61820 + b.id);
  assert.equal({ port: b3.wireguard!.next!.listenPort, address: b3.wireguard!.next!.address, gen: b3.wireguard!.next!.keyGeneration }, { port: 51820 + b.id, address: '169.254.0.1', gen: 1 });
});

test('an edge without a reported key leaves its peers without peerPublicKey and is warned about', () => {
  const { bundles, warnings } = compile(inv, intent, { intentFile });
  assert.ok(warnings.some((w) => /^edge2: no WireGuard public key/.test(w)));
  assert.is(bundles.get('edge1')!.bundle.paths.find((p) => p.transport === 'inet')!.wireguard!.peerPublicKey, undefined);
});

test('plaintext is the default: the same intent without encryption compiles no WireGuard', () => {
  const text = readFileSync(intentFile, 'utf8').replace('encryption: wireguard', '');
  const { bundles } = compile(withKeys, parseIntent(text, 'plain.yaml'), { intentFile: 'plain.yaml' });
  for (const { bundle } of bundles.values()) assert.ok(bundle.paths.every((p) => p.wireguard === undefined));
});

test('an unknown encryption is refused with the file and key path', () => {
  const text = readFileSync(intentFile, 'utf8').replace('encryption: wireguard', 'encryption: ipsec');
  try {
    parseIntent(text, 'bad.yaml');
    assert.unreachable('accepted');
  } catch (e) {
    assert.instance(e, InputError);
    assert.match((e as Error).message, /bad\.yaml/);
    assert.match((e as Error).message, /transports\.inet\.encryption/);
  }
});

test('the bundle schema refuses a malformed peer key', () => {
  const { bundles } = compile(withKeys, intent, { intentFile });
  const b = structuredClone(bundles.get('edge1')!.bundle);
  b.paths.find((p) => p.wireguard)!.wireguard!.peerPublicKey = 'not-a-key';
  const r = Bundle.safeParse(b);
  assert.not.ok(r.success);
  assert.match(JSON.stringify(r.error!.issues), /44 characters of base64/);
});

test.run();

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import { keyIdOf, signBundle, verifySignedBundle, SignatureError, SIGNED_BUNDLE_FORMAT } from '../../dataplane/bundle/index.ts';
import { compileText, fixture } from './fixtures.ts';

const f = fixture('two-site-dual-wan');
const [edge, compiled] = [...compileText(f.intentText, f.inventory).bundles][0]!;
const keys = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');

function kindOf(fn: () => unknown): string {
  try { fn(); } catch (e) { if (e instanceof SignatureError) return `${e.kind}: ${e.message}`; throw e; }
  throw new Error('expected a SignatureError');
}

test('a signed bundle round-trips through JSON and verifies to the same bundle', () => {
  const env = signBundle(compiled.bundle, keys.privateKey);
  assert.is(env.format, SIGNED_BUNDLE_FORMAT);
  assert.is(env.hash, compiled.hash);
  assert.is(env.keyId, keyIdOf(keys.publicKey));
  assert.match(env.keyId, /^[0-9a-f]{16}$/);
  const back = verifySignedBundle(JSON.parse(JSON.stringify(env)), [other.publicKey, keys.publicKey]);
  assert.equal(back, compiled.bundle, `bundle of ${edge}`);
});

test('a tampered bundle is refused as a hash mismatch', () => {
  const env = JSON.parse(JSON.stringify(signBundle(compiled.bundle, keys.privateKey)));
  env.bundle.node = 'evil';
  assert.match(kindOf(() => verifySignedBundle(env, [keys.publicKey])), /^hash-mismatch: .*tampered/);
});

test('a bundle re-hashed by an attacker fails the signature check', () => {
  const env = JSON.parse(JSON.stringify(signBundle(compiled.bundle, keys.privateKey)));
  env.bundle.node = 'evil';
  const forged = signBundle(env.bundle, other.privateKey);
  // The attacker keeps the trusted key id but cannot produce its signature.
  assert.match(kindOf(() => verifySignedBundle({ ...forged, keyId: keyIdOf(keys.publicKey) }, [keys.publicKey])), /^bad-signature: /);
});

test('a bundle signed by a key the edge does not trust is refused as unknown key', () => {
  const env = signBundle(compiled.bundle, other.privateKey);
  const msg = kindOf(() => verifySignedBundle(env, [keys.publicKey]));
  assert.match(msg, /^unknown-key: /);
  assert.ok(msg.includes(keyIdOf(other.publicKey)) && msg.includes(keyIdOf(keys.publicKey)));
});

test('a signature from the wrong key under the right key id is refused', () => {
  const env = signBundle(compiled.bundle, keys.privateKey);
  const wrong = signBundle(compiled.bundle, other.privateKey);
  assert.match(kindOf(() => verifySignedBundle({ ...env, signature: wrong.signature }, [keys.publicKey])), /^bad-signature: /);
});

test('malformed envelopes are refused with the field that is wrong', () => {
  const env = signBundle(compiled.bundle, keys.privateKey);
  assert.match(kindOf(() => verifySignedBundle(null, [keys.publicKey])), /^malformed: /);
  assert.match(kindOf(() => verifySignedBundle({ ...env, format: 'v0' }, [keys.publicKey])), /^malformed: .*format/);
  assert.match(kindOf(() => verifySignedBundle({ ...env, signature: 7 }, [keys.publicKey])), /^malformed: .*signature/);
});

test('a correctly signed object that is not a bundle is refused as invalid', () => {
  const env = signBundle({ hello: 'world' } as never, keys.privateKey);
  assert.match(kindOf(() => verifySignedBundle(env, [keys.publicKey])), /^invalid-bundle: /);
});

test.run();

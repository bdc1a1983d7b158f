/**
 * WireGuard keys (Curve25519), with Node's own X25519 — no subprocess and no home-made crypto. Keys are
 * base64 of 32 bytes, the form `wg` and wireguard-go read. A private key only ever lives in a 0600 file in
 * the edge's state directory.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';

// DER prefix of a PKCS#8 X25519 private key: the 32 key bytes follow.
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** A fresh private key, base64. Example: `generatePrivateKey()` → 'yA…Vg='. */
export function generatePrivateKey(): string {
  const der = generateKeyPairSync('x25519').privateKey.export({ format: 'der', type: 'pkcs8' });
  return der.subarray(der.length - 32).toString('base64');
}

/** The public key of a base64 private key. Throws on anything that is not 32 bytes of base64. */
export function publicKeyOf(privateKey: string): string {
  const raw = Buffer.from(privateKey, 'base64');
  if (raw.length !== 32) throw new Error('a WireGuard private key is 32 bytes of base64');
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_X25519, raw]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  return spki.subarray(spki.length - 32).toString('base64');
}

/**
 * The key in `file`, created (mode 0600, written atomically) when absent; returns the public key only.
 * Example: `ensureKeyFile('/run/patronus/lab/edge1/wg.key')` → 'hT…Q='.
 */
export function ensureKeyFile(file: string): string {
  if (!existsSync(file)) {
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, generatePrivateKey() + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
  }
  return publicKeyOf(readFileSync(file, 'utf8').trim());
}

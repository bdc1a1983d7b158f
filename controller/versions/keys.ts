/** The controller's Ed25519 bundle-signing key, kept as PKCS#8 PEM in the state directory (mode 0600). */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyIdOf } from '../../dataplane/bundle/signature.ts';

/** File name of the signing key inside the controller state directory. */
export const SIGNING_KEY_FILE = 'signing-key.pem';

/** A loaded signing key: the private half signs, the public half goes to edges as a trust anchor. */
export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** First 16 hex of sha256(SPKI DER), as in the signed envelope. */
  keyId: string;
  /** Where the PEM lives. */
  file: string;
  /** True when this call generated the key. */
  created: boolean;
}

/**
 * Loads `<stateDir>/signing-key.pem`, creating a new Ed25519 key there (0600, directory 0700) on first use.
 * Creation is atomic (link of a complete file), so two processes racing on a fresh directory end up with the same key.
 * @throws Error when the file exists but is not an Ed25519 private key, or is readable by group/others.
 * @example const { privateKey, keyId } = loadOrCreateSigningKey('.patronus/controller');
 */
export function loadOrCreateSigningKey(stateDir: string): SigningKey {
  const file = join(stateDir, SIGNING_KEY_FILE);
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  let created = false;
  if (!existsSync(file)) try {
    // Written whole under a temporary name, then linked into place: link() fails with EEXIST atomically, so a
    // reader never sees a half-written key and a racing process keeps the winner's key.
    const { privateKey } = generateKeyPairSync('ed25519');
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    try {
      linkSync(tmp, file);
      created = true;
    } finally {
      unlinkSync(tmp);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const mode = statSync(file).mode & 0o777;
  if (mode & 0o077) throw new Error(`${file}: the signing key is readable by others (mode ${mode.toString(8)}); run chmod 600 ${file}`);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(readFileSync(file));
  } catch (cause) {
    throw new Error(`${file}: not a PEM private key`, { cause });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw new Error(`${file}: expected an Ed25519 key, found ${privateKey.asymmetricKeyType}`);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, keyId: keyIdOf(publicKey), file, created };
}

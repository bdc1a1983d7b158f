/**
 * The one place @peculiar/x509 is loaded: its dependency injection needs the reflect-metadata polyfill
 * evaluated first, and it needs Node's WebCrypto as its provider. Node's own crypto can verify
 * certificates (X509Certificate) but cannot create certificates or parse CSRs, hence the library.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };

/** ECDSA P-256 with SHA-256: what every TLS stack (Node's OpenSSL included) accepts for client and server certs. */
export const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

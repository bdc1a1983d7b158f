/**
 * controller/pki — the controller's own certificate authority (ECDSA P-256; Node's TLS accepts it for client
 * and server certificates alike). It issues edge client certificates from CSRs and the edge API's server
 * certificate; the store records every certificate so revocation is checked on every connection.
 *
 * @example
 * const ca = await CertificateAuthority.open(stateDir);                  // <stateDir>/ca/{key,cert}.pem
 * const cert = await issueEdgeCertificate(store, ca, csrPem, 'edge1');    // 30 days, recorded
 * await revokeEdgeCertificate(store, cert.serial, 'device stolen', 'alice');
 */
export { CertificateAuthority, DEFAULT_EDGE_CERT_DAYS, randomSerial, checkEdgeName, readCsr, type IssuedCertificate, type CaOptions } from './ca.ts';
export { issueEdgeCertificate, revokeEdgeCertificate, checkPeerCertificate, type PeerCheck } from './records.ts';
export { PkiError, CsrError, isPkiError } from './errors.ts';
export { x509, EC_ALG } from './x509.ts';

/**
 * controller/edgeapi — the API real edges (and edges enrolled outside the twin) talk to: HTTPS with mutual TLS
 * from the controller's CA (controller/pki). Enrolment by one-time token, certificate renewal, inventory,
 * the desired signed bundle by long-poll, acks, health and telemetry. docs/edge-api.md has the protocol.
 *
 * @example
 * const api = await startEdgeApi({ store, ca, tls, signingKeys: [pub], host: '0.0.0.0', port: 8443 });
 * const token = await createEnrolmentToken(store, ca, 'edge1');
 * await setDesired(store, ['edge1'], 7);          // waiting long-polls answer at once
 */
export { startEdgeApi, MAX_WAIT_S, type EdgeApi, type EdgeApiOptions } from './server.ts';
export { setDesired, onEdgeEvent, emitEdgeEvent, type EdgeEvent } from './desired.ts';
export { createEnrolmentToken, parseEnrolmentToken, certificatePin, tokenSecretHash, DEFAULT_TOKEN_TTL_MS } from './tokens.ts';
export { AckRequest, EnrolRequest, HealthRequest, InventoryRequest, RenewRequest } from './messages.ts';

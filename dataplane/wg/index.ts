/**
 * WireGuard for encrypted paths (docs/overlay.md, "Encrypted paths"): keys (Node's X25519), machine-unique
 * device names, the implementation choice (kernel module when present, wireguard-go otherwise) and device
 * life cycle and status through `ip` and `wg`. Used by the agent (dataplane/agent/wg.ts) and the bench.
 */
export { generatePrivateKey, publicKeyOf, ensureKeyFile } from './keys.ts';
export {
  DEVICE_PREFIX, LIVE_HANDSHAKE_S, WG_SOCKET_DIR, configureDevice, detectImpl, deviceName, ensureDevice, recordedDevices, removeDevice, showDevice,
  type WgDeviceConfig, type WgHost, type WgImpl, type WgPeerStatus,
} from './device.ts';
export { KeyRing, type KeyInfo, type KeyRingState } from './keyring.ts';

/**
 * The agent's WireGuard: one device per encrypted path of the bundle (paths with `wireguard`), named
 * machine-uniquely from the agent's state directory and the path's (local interface, peer, remote address),
 * configured with the edge's own key (`wg.key` in the state directory, 0600, created on first start, never
 * sent anywhere but as its public half: `GET /wg-key`). Devices of paths the bundle no longer has are
 * removed; devices survive an agent restart (like pinned maps) and are adopted by the next start; the twin's
 * destroy stops their daemons with the rest of the namespace's processes. Status: the implementation, and
 * per device the handshake age and rx/tx bytes.
 *
 * Relay (docs/overlay.md, "NAT traversal"): a packet that a WireGuard device decrypts enters the kernel,
 * not the LAN program, so an edge that relays between two encrypted peers — a hub for spokes behind
 * symmetric NAT, whose bundles route each other's sites through it — needs kernel routes into the devices.
 * {@link relayPlan} gives one per remote prefix of the first segment whose next site is reached over an
 * encrypted path, `dev <device> metric 1000 proto 249`: a fallback that any route the route merge writes
 * (proto 250, metric 0) overrides, and that the agent finds and replaces by its protocol number.
 */
import { execFileSync } from 'node:child_process';
import { resolve, join } from 'node:path';
import type { Bundle, BundlePath } from '../bundle/schema.ts';
import {
  configureDevice, detectImpl, deviceName, ensureDevice, ensureKeyFile, recordedDevices, removeDevice, showDevice, type WgHost, type WgImpl,
} from '../wg/index.ts';
import { WG_OVERHEAD } from '../xdp/maps.ts';

/** One encrypted path's device as GET /status reports it. */
export interface WgDeviceStatus {
  path: number;
  device: string;
  peerNode: string;
  listenPort: number;
  endpoint: string;
  address: string;
  /** Whether the bundle carries the peer's public key yet. */
  peerKnown: boolean;
  /** Seconds since the last handshake; null = none yet. */
  handshakeAgeS: number | null;
  rxBytes: number;
  txBytes: number;
}

export interface WgStatus {
  impl: WgImpl | null;
  publicKey: string;
  devices: WgDeviceStatus[];
  /** The last device error (creation or configuration), null when none. */
  error: string | null;
}

/** Route protocol number of the relay routes into WireGuard devices (next to the route merge's 250). */
export const RTPROT_RELAY = 249;
/** Their metric: above the route merge's (0), so they only fill gaps. */
export const RELAY_METRIC = 1000;

/** One kernel route into a WireGuard device. */
export interface RelayRoute { dst: string; dev: string }

const ROLE_ORDER = { active: 0, backup: 1, 'last-resort': 2 } as const;

/**
 * The relay routes of `bundle` (pure): for each remote IPv4 prefix of the first segment, the device of the
 * first encrypted path (by role, then id) to the site the route goes via, when that device is up.
 * Example: a hub whose bundle routes 10.2.0.0/24 via s2 over encrypted path 3 →
 * `[{ dst: '10.2.0.0/24', dev: 'ptw…' }]`.
 */
export function relayPlan(bundle: Bundle, deviceOf: (pathId: number) => string | undefined): RelayRoute[] {
  const out: RelayRoute[] = [];
  for (const r of bundle.segments[0]?.routes ?? []) {
    if (r.kind !== 'remote' || r.prefix.includes(':') || r.prefix === '0.0.0.0/0') continue;
    const target = r.via ?? r.site;
    const path = bundle.paths
      .filter((p) => p.peerSite === target && p.wireguard && deviceOf(p.id))
      .sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.id - b.id)[0];
    if (path) out.push({ dst: r.prefix, dev: deviceOf(path.id)! });
  }
  return out;
}

export class AgentWireguard {
  private readonly dir: string;
  private readonly keyFile: string;
  private impl: WgImpl | null = null;
  private pub?: string;
  /** path id → device name, for the paths whose device is up and configured. */
  private devices = new Map<number, string>();
  private paths: BundlePath[] = [];
  private error: string | null = null;

  /**
   * `stateDir`: the agent's state directory (key file, pid files and daemon logs under `wg/`); `host.netns`:
   * manage devices in that namespace instead of the agent's own (tests).
   */
  constructor(stateDir: string, private readonly host: WgHost = {}, private readonly now: () => number = Date.now) {
    this.dir = join(resolve(stateDir), 'wg');
    this.keyFile = join(resolve(stateDir), 'wg.key');
  }

  /** The edge's public key (the key pair is created on first use). */
  publicKey(): string {
    this.pub ??= ensureKeyFile(this.keyFile);
    return this.pub;
  }

  /** The device of path `id` when it is up (the overlay programs the path into it). */
  device(id: number): string | undefined {
    return this.devices.get(id);
  }

  private nameOf(p: BundlePath): string {
    return deviceName(this.dir, `${p.localInterface}|${p.peerNode}|${p.remoteAddress}`);
  }

  /**
   * Bring the devices in line with `bundle`: create/adopt and configure one per encrypted path, remove the
   * rest of what this agent recorded. A device that fails is reported (status.error) and its path left out
   * (the overlay lists it unresolved), the others go on.
   */
  async apply(bundle: Bundle): Promise<void> {
    const wanted = bundle.paths.filter((p) => p.wireguard);
    this.paths = wanted;
    const next = new Map<number, string>();
    this.error = null;
    if (wanted.length) {
      this.impl ??= detectImpl(this.host);
      const priv = this.keyFile;
      this.publicKey();
      // Dropped devices go first: a new device (the peer's address changed once its reflexive endpoint was
      // learned, path ids renumbered) may need the listen port an old one holds.
      const keep = new Set(wanted.map((p) => this.nameOf(p)));
      for (const name of recordedDevices(this.dir)) if (!keep.has(name)) await removeDevice(this.host, name, this.dir);
      let todo = wanted;
      // A second pass for devices whose new listen port another kept device still held in the first.
      for (let pass = 0; pass < 2 && todo.length; pass++) {
        const failed: BundlePath[] = [];
        for (const p of todo) {
          const name = this.nameOf(p);
          const w = p.wireguard!;
          try {
            await ensureDevice(this.host, this.impl, name, this.dir);
            configureDevice(this.host, name, {
              privateKeyFile: priv, listenPort: w.listenPort, address: w.address, mtu: p.mtu - WG_OVERHEAD,
              ...(w.peerPublicKey ? { peer: { publicKey: w.peerPublicKey, endpoint: `${p.remoteAddress}:${w.peerPort}` } } : {}),
            });
            next.set(p.id, name);
          } catch (e) {
            failed.push(p);
            if (pass === 1) this.error = `path ${p.id} (${name}): ${(e as Error).message}`;
          }
        }
        todo = failed;
      }
    } else {
      for (const name of recordedDevices(this.dir)) await removeDevice(this.host, name, this.dir);
    }
    this.devices = next;
    try { this.writeRelayRoutes(relayPlan(bundle, (id) => next.get(id))); } catch (e) { this.error ??= `relay routes: ${(e as Error).message}`; }
  }

  /** Replace this agent's proto-249 routes by `routes` (one `ip -batch`; unwanted ones deleted). */
  private writeRelayRoutes(routes: RelayRoute[]): void {
    const ip = (args: string[], input?: string) => {
      const a = this.host.netns ? ['ip', 'netns', 'exec', this.host.netns, 'ip', ...args] : ['ip', ...args];
      return execFileSync(a[0]!, a.slice(1), { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
    };
    const current = JSON.parse(ip(['-j', 'route', 'show', 'proto', String(RTPROT_RELAY)]) || '[]') as { dst: string }[];
    // One relay route per destination (replace moves it between devices): delete only destinations no longer wanted.
    const want = new Set(routes.map((r) => r.dst));
    const lines = routes.map((r) => `route replace ${r.dst} dev ${r.dev} metric ${RELAY_METRIC} proto ${RTPROT_RELAY}`);
    for (const c of current) if (!want.has(c.dst)) lines.push(`route delete ${c.dst} metric ${RELAY_METRIC} proto ${RTPROT_RELAY}`);
    if (lines.length) ip(['-batch', '-'], lines.join('\n') + '\n');
  }

  /** The last apply's device error, null when every device came up. */
  lastError(): string | null {
    return this.error;
  }

  /** Remove every device this agent recorded (tests, decommissioning). */
  async removeAll(): Promise<void> {
    for (const name of recordedDevices(this.dir)) await removeDevice(this.host, name, this.dir);
    this.devices.clear();
  }

  /** Null while the bundle has no encrypted path. */
  status(): WgStatus | null {
    if (!this.paths.length) return null;
    const nowS = this.now() / 1000;
    const devices = this.paths.map((p): WgDeviceStatus => {
      const device = this.nameOf(p);
      let peer;
      try { peer = this.devices.has(p.id) ? showDevice(this.host, device).peers[0] : undefined; } catch { peer = undefined; }
      return {
        path: p.id, device, peerNode: p.peerNode, listenPort: p.wireguard!.listenPort, endpoint: `${p.remoteAddress}:${p.wireguard!.peerPort}`,
        address: p.wireguard!.address, peerKnown: p.wireguard!.peerPublicKey !== undefined,
        handshakeAgeS: peer?.latestHandshake ? Math.max(0, Math.round(nowS - peer.latestHandshake)) : null,
        rxBytes: peer?.rxBytes ?? 0, txBytes: peer?.txBytes ?? 0,
      };
    });
    return { impl: this.impl, publicKey: this.publicKey(), devices, error: this.error };
  }
}

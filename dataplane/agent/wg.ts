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
import type { Bundle, BundlePath, WgTunnel } from '../bundle/schema.ts';
import {
  configureDevice, detectImpl, deviceName, ensureDevice, KeyRing, recordedDevices, removeDevice, showDevice, type KeyRingState, type WgHost, type WgImpl,
} from '../wg/index.ts';
import { WG_OVERHEAD } from '../xdp/maps.ts';

/** The second tunnel of a path during a key rotation, as GET /status reports it. */
export interface WgNextStatus {
  device: string;
  listenPort: number;
  address: string;
  /** Generation of this edge's key the tunnel uses. */
  keyGeneration: number;
  handshakeAgeS: number | null;
  rxBytes: number;
  txBytes: number;
}

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
  /** Generation of this edge's key the device uses. */
  keyGeneration: number;
  /** During a key rotation: the second tunnel (docs/overlay.md, "Key rotation"). */
  next?: WgNextStatus;
  /** Which tunnel the LAN program sends the path's packets into: `next` once its handshake is confirmed. */
  using: 'main' | 'next';
}

export interface WgStatus {
  impl: WgImpl | null;
  publicKey: string;
  /** Generation of the current key; `nextPublicKey` while a rotation is under way. */
  keyGeneration: number;
  nextPublicKey?: string;
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

/** How often a path in the middle of a key rotation checks its new tunnel's handshake (ms). */
const SWITCH_POLL_MS = 100;

export class AgentWireguard {
  private readonly dir: string;
  private readonly keys: KeyRing;
  private impl: WgImpl | null = null;
  /** path id → device name of the main tunnel / the rotation's next tunnel, for those up and configured. */
  private mains = new Map<number, string>();
  private nexts = new Map<number, string>();
  /** path id → the device the LAN program sends into (a next tunnel once its handshake is confirmed). */
  private active = new Map<number, string>();
  private paths: BundlePath[] = [];
  private bundle?: Bundle;
  private error: string | null = null;
  private timer?: NodeJS.Timeout;
  private applying = false;

  /**
   * `stateDir`: the agent's state directory (keys, pid files and daemon logs under `wg/`); `host.netns`:
   * manage devices in that namespace instead of the agent's own (tests); `onSwitch`: called when a path
   * moved into its rotation's new tunnel (the agent re-programs the overlay's path entry).
   */
  constructor(stateDir: string, private readonly host: WgHost = {}, private readonly now: () => number = Date.now, private readonly onSwitch?: () => void) {
    this.dir = join(resolve(stateDir), 'wg');
    this.keys = new KeyRing(join(resolve(stateDir), 'wg.key'));
  }

  /** The edge's public key (the key pair is created on first use). */
  publicKey(): string {
    return this.keys.state().publicKey;
  }

  /** The current key, its generation, and the next key during a rotation (`GET /wg-key`). */
  keyState(): KeyRingState {
    return this.keys.state();
  }

  /**
   * Start a key rotation (`POST /wg-key/rotate`): a next key pair is generated (idempotent while one
   * exists) and reported; nothing else changes until a bundle gives the paths a tunnel with it.
   */
  rotate(): KeyRingState {
    return this.keys.rotate();
  }

  /** The device the LAN program should send path `id` into, when one is up. */
  device(id: number): string | undefined {
    return this.active.get(id);
  }

  private nameOf(p: BundlePath, t: WgTunnel): string {
    // The listen port tells a rotation's two tunnels apart; the new one keeps its name once it is the only one.
    return deviceName(this.dir, `${p.localInterface}|${p.peerNode}|${p.remoteAddress}|${t.listenPort}`);
  }

  /**
   * Bring the devices in line with `bundle`: create/adopt and configure one per tunnel of each encrypted
   * path (two during a key rotation), remove the rest of what this agent recorded. When the bundle uses the
   * next key and no longer the current one, the next key becomes current first. A device that fails is
   * reported (status.error) and its tunnel left out (a path without any lists unresolved in the overlay).
   */
  async apply(bundle: Bundle): Promise<void> {
    this.applying = true;
    try { await this.applyNow(bundle); } finally { this.applying = false; }
    this.watch();
  }

  private async applyNow(bundle: Bundle): Promise<void> {
    const wanted = bundle.paths.filter((p) => p.wireguard);
    this.paths = wanted;
    this.bundle = bundle;
    const mains = new Map<number, string>(), nexts = new Map<number, string>();
    this.error = null;
    if (wanted.length) {
      this.impl ??= detectImpl(this.host);
      const ks = this.keys.state();
      const gens = new Set(wanted.flatMap((p) => [p.wireguard!, ...(p.wireguard!.next ? [p.wireguard!.next] : [])].map((t) => t.keyGeneration ?? ks.generation)));
      // The controller ended this edge's rotation: its bundle no longer names the old key.
      if (ks.next && gens.has(ks.next.generation) && !gens.has(ks.generation)) this.keys.promote();
      const tunnels = wanted.flatMap((p) => [{ p, t: p.wireguard!, into: mains }, ...(p.wireguard!.next ? [{ p, t: p.wireguard!.next, into: nexts }] : [])]);
      // Dropped devices go first: a new device (the peer's address changed once its reflexive endpoint was
      // learned, path ids renumbered) may need the listen port an old one holds.
      const keep = new Set(tunnels.map(({ p, t }) => this.nameOf(p, t)));
      for (const name of recordedDevices(this.dir)) if (!keep.has(name)) await removeDevice(this.host, name, this.dir);
      let todo = tunnels;
      // A second pass for devices whose new listen port another kept device still held in the first.
      for (let pass = 0; pass < 2 && todo.length; pass++) {
        const failed: typeof tunnels = [];
        for (const x of todo) {
          const { p, t } = x;
          const name = this.nameOf(p, t);
          try {
            const priv = this.keys.fileOf(t.keyGeneration);
            if (!priv) throw new Error(`the bundle names key generation ${t.keyGeneration}, this edge holds ${ks.generation}${ks.next ? ` and ${ks.next.generation}` : ''}`);
            await ensureDevice(this.host, this.impl, name, this.dir);
            configureDevice(this.host, name, {
              privateKeyFile: priv, listenPort: t.listenPort, address: t.address, mtu: p.mtu - WG_OVERHEAD,
              ...(t.peerPublicKey ? { peer: { publicKey: t.peerPublicKey, endpoint: `${p.remoteAddress}:${t.peerPort}` } } : {}),
            });
            x.into.set(p.id, name);
          } catch (e) {
            failed.push(x);
            if (pass === 1) this.error = `path ${p.id} (${name}): ${(e as Error).message}`;
          }
        }
        todo = failed;
      }
    } else {
      for (const name of recordedDevices(this.dir)) await removeDevice(this.host, name, this.dir);
    }
    this.mains = mains;
    this.nexts = nexts;
    this.active = new Map();
    this.select();
    try { this.writeRelayRoutes(relayPlan(bundle, (id) => this.active.get(id))); } catch (e) { this.error ??= `relay routes: ${(e as Error).message}`; }
  }

  /**
   * Pick each path's device: its rotation's next tunnel once that has a confirmed handshake (a completed
   * handshake on our side means the peer holds the session too, so what we send there decrypts), else the
   * main one. Returns whether any path changed device.
   */
  private select(): boolean {
    let changed = false;
    for (const p of this.paths) {
      const main = this.mains.get(p.id), next = this.nexts.get(p.id), cur = this.active.get(p.id);
      let want = main ?? next;
      if (next && cur !== next) {
        try {
          const peer = showDevice(this.host, next).peers[0];
          if (peer && peer.publicKey === p.wireguard!.next!.peerPublicKey && peer.latestHandshake > 0) want = next;
        } catch { /* not readable now: the next poll */ }
      } else if (next) want = next;
      if (want !== cur) {
        changed = true;
        if (want) this.active.set(p.id, want); else this.active.delete(p.id);
      }
    }
    return changed;
  }

  /** While a path waits for its new tunnel's handshake, poll it; switch and tell the agent when it comes. */
  private watch(): void {
    const waiting = () => this.paths.some((p) => this.nexts.has(p.id) && this.active.get(p.id) !== this.nexts.get(p.id));
    if (!waiting()) { clearInterval(this.timer); this.timer = undefined; return; }
    this.timer ??= setInterval(() => {
      if (this.applying) return;
      if (this.select()) {
        try { this.writeRelayRoutes(relayPlan(this.bundle!, (id) => this.active.get(id))); } catch (e) { this.error ??= `relay routes: ${(e as Error).message}`; }
        this.onSwitch?.();
      }
      if (!waiting()) { clearInterval(this.timer); this.timer = undefined; }
    }, SWITCH_POLL_MS);
    this.timer.unref();
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
    clearInterval(this.timer);
    this.timer = undefined;
    for (const name of recordedDevices(this.dir)) await removeDevice(this.host, name, this.dir);
    this.mains.clear();
    this.nexts.clear();
    this.active.clear();
  }

  /** Stop polling (agent shutdown); devices stay for the next start to adopt. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Null while the bundle has no encrypted path. */
  status(): WgStatus | null {
    if (!this.paths.length) return null;
    const nowS = this.now() / 1000;
    const ks = this.keys.state();
    const show = (device: string | undefined) => {
      try { return device ? showDevice(this.host, device).peers[0] : undefined; } catch { return undefined; }
    };
    const age = (peer: ReturnType<typeof show>) => (peer?.latestHandshake ? Math.max(0, Math.round(nowS - peer.latestHandshake)) : null);
    const devices = this.paths.map((p): WgDeviceStatus => {
      const w = p.wireguard!;
      const device = this.nameOf(p, w);
      const peer = show(this.mains.get(p.id));
      const nx = w.next && this.nexts.get(p.id);
      const np = nx ? show(nx) : undefined;
      return {
        path: p.id, device, peerNode: p.peerNode, listenPort: w.listenPort, endpoint: `${p.remoteAddress}:${w.peerPort}`,
        address: w.address, peerKnown: w.peerPublicKey !== undefined,
        handshakeAgeS: age(peer), rxBytes: peer?.rxBytes ?? 0, txBytes: peer?.txBytes ?? 0, keyGeneration: w.keyGeneration ?? ks.generation,
        ...(w.next && { next: {
          device: this.nameOf(p, w.next), listenPort: w.next.listenPort, address: w.next.address, keyGeneration: w.next.keyGeneration ?? ks.generation,
          handshakeAgeS: age(np), rxBytes: np?.rxBytes ?? 0, txBytes: np?.txBytes ?? 0,
        } }),
        using: nx && this.active.get(p.id) === nx ? 'next' : 'main',
      };
    });
    return { impl: this.impl, publicKey: ks.publicKey, keyGeneration: ks.generation, ...(ks.next && { nextPublicKey: ks.next.publicKey }), devices, error: this.error };
  }
}

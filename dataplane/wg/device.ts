/**
 * One WireGuard device per encrypted path: created with the kernel module where `ip link add … type
 * wireguard` works, else as a wireguard-go process over TUN (this machine's kernel has no module), then
 * configured with `wg set` — the same commands for both. wireguard-go's control sockets live in one
 * machine-wide directory (/var/run/wireguard/NAME.sock), so names are machine-unique: {@link deviceName}.
 * A wireguard-go process is remembered by a pid file in the owner's state directory and stopped by that
 * pid only; a dead pid file (agent or twin SIGKILLed) is cleaned up by the next {@link ensureDevice} or
 * {@link removeDevice}.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { publicKeyOf } from './keys.ts';

/** Which WireGuard ran: the kernel module or the userspace daemon. */
export type WgImpl = 'kernel' | 'wireguard-go';

/** Where wireguard-go puts its UAPI sockets (machine-wide). */
export const WG_SOCKET_DIR = '/var/run/wireguard';
/** Prefix of every device this module creates: `ptw` + 12 hex digits (15 characters, the kernel's limit). */
export const DEVICE_PREFIX = 'ptw';

/** Commands run in `netns` (ip netns exec) when given, else in the caller's namespace. */
export interface WgHost { netns?: string }

const inNs = (h: WgHost, argv: string[]) => (h.netns ? ['ip', 'netns', 'exec', h.netns, ...argv] : argv);
function run(h: WgHost, argv: string[], input?: string): string {
  const a = inNs(h, argv);
  return execFileSync(a[0]!, a.slice(1), { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], input });
}
const tryRun = (h: WgHost, argv: string[]) => { try { run(h, argv); return true; } catch { return false; } };

/**
 * A machine-unique device name for `scope` (e.g. the agent's state directory) and `key` (what identifies
 * the path: local interface, peer node, remote address). Example: `deviceName('/run/x/edge1', 'wan1|edge2|100.64.0.6')` → 'ptw3f9c0a1b2c4d'.
 */
export function deviceName(scope: string, key: string): string {
  return DEVICE_PREFIX + createHash('sha256').update(`${scope}\0${key}`).digest('hex').slice(0, 12);
}

let detected: WgImpl | undefined;
/**
 * The implementation to use: `kernel` when a throw-away `ip link add … type wireguard` succeeds, else
 * `wireguard-go` when installed; throws when neither is available. Cached per process.
 */
export function detectImpl(h: WgHost = {}): WgImpl {
  if (detected) return detected;
  const probe = `ptwgprobe${(process.pid % 100000).toString(36)}`;
  if (tryRun(h, ['ip', 'link', 'add', probe, 'type', 'wireguard'])) {
    tryRun(h, ['ip', 'link', 'del', probe]);
    return (detected = 'kernel');
  }
  try { execFileSync('wireguard-go', ['--version'], { stdio: 'ignore' }); } catch {
    throw new Error('no WireGuard: the kernel has no wireguard module and wireguard-go is not installed (scripts/setup.sh installs it)');
  }
  return (detected = 'wireguard-go');
}

const linkExists = (h: WgHost, name: string) => tryRun(h, ['ip', 'link', 'show', 'dev', name]);
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };
/** The pid runs wireguard-go for `name` (not a recycled pid). */
function isOurDaemon(pid: number, name: string): boolean {
  try { const c = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'); return c.some((a) => a.endsWith('wireguard-go')) && c.includes(name); } catch { return false; }
}
const pidFile = (dir: string, name: string) => join(dir, `${name}.pid`);
const readPid = (dir: string, name: string) => { try { return Number(readFileSync(pidFile(dir, name), 'utf8')); } catch { return 0; } };

/**
 * Make sure device `name` exists and is up (creating it with `impl`); `stateDir` keeps the pid file and
 * the daemon's log. Returns whether it had to be created. Idempotent: a running device is kept as is.
 */
export async function ensureDevice(h: WgHost, impl: WgImpl, name: string, stateDir: string): Promise<boolean> {
  mkdirSync(stateDir, { recursive: true });
  if (impl === 'kernel') {
    if (linkExists(h, name)) return false;
    run(h, ['ip', 'link', 'add', name, 'type', 'wireguard']);
    return true;
  }
  const pid = readPid(stateDir, name);
  if (pid && alive(pid) && isOurDaemon(pid, name) && linkExists(h, name)) return false;
  await removeDevice(h, name, stateDir);
  const log = openSync(join(stateDir, `${name}.log`), 'a');
  const argv = inNs(h, ['wireguard-go', '-f', name]);
  // The kernel here may claim WireGuard support it lacks; wireguard-go refuses to start without this.
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log, log], env: { ...process.env, WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD: '1' } });
  closeSync(log);
  child.unref();
  let exited: number | null = null;
  child.once('exit', (c) => { exited = c ?? 1; });
  writeFileSync(pidFile(stateDir, name), String(child.pid));
  for (const end = Date.now() + 5000; ; await new Promise((r) => setTimeout(r, 20))) {
    if (existsSync(join(WG_SOCKET_DIR, `${name}.sock`)) && linkExists(h, name)) return true;
    if (exited !== null || Date.now() > end) {
      const tail = (() => { try { return readFileSync(join(stateDir, `${name}.log`), 'utf8').slice(-500); } catch { return ''; } })();
      await removeDevice(h, name, stateDir);
      throw new Error(`wireguard-go ${name} did not come up${exited !== null ? ` (exit ${exited})` : ' within 5 s'}: ${tail.trim()}`);
    }
  }
}

/** Stop/delete device `name`: its wireguard-go by the recorded pid, the link, a stale socket, the pid file. */
export async function removeDevice(h: WgHost, name: string, stateDir: string): Promise<void> {
  const pid = readPid(stateDir, name);
  if (pid && alive(pid) && isOurDaemon(pid, name)) {
    for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
      try { process.kill(pid, sig); } catch { /* gone */ }
      for (let i = 0; i < 40 && alive(pid) && isOurDaemon(pid, name); i++) await new Promise((r) => setTimeout(r, 25));
      if (!alive(pid) || !isOurDaemon(pid, name)) break;
    }
  }
  if (linkExists(h, name)) tryRun(h, ['ip', 'link', 'del', name]);
  rmSync(join(WG_SOCKET_DIR, `${name}.sock`), { force: true });
  rmSync(pidFile(stateDir, name), { force: true });
}

/** Devices with a pid file in `stateDir` (what an earlier run of the same owner may have left). */
export function recordedDevices(stateDir: string): string[] {
  if (!existsSync(stateDir)) return [];
  return readdirSync(stateDir).filter((f) => f.startsWith(DEVICE_PREFIX) && f.endsWith('.pid')).map((f) => f.slice(0, -4));
}

/** What one device should look like. */
export interface WgDeviceConfig {
  /** File holding the base64 private key (0600). */
  privateKeyFile: string;
  listenPort: number;
  /**
   * The one peer: public key, endpoint "a.b.c.d:port" and the persistent keepalive (s, default 25: below
   * the 30 s a Linux NAT keeps an unanswered UDP mapping, so a binding never expires); absent = no peer yet.
   */
  peer?: { publicKey: string; endpoint: string; keepaliveS?: number };
  /** Inner address of this end of the /31 and the device MTU (underlay MTU − 60). */
  address: string;
  mtu: number;
}

/** A handshake younger than this (s) means the peer's current endpoint works (WireGuard's session lifetime). */
export const LIVE_HANDSHAKE_S = 180;

/**
 * Configure `name` to `c`: key, port, the single peer (others removed; allowed-ips 0.0.0.0/0 and ::/0, since
 * the device carries exactly one path), the /31, MTU, up, and rp_filter off (decrypted packets carry remote
 * LAN sources). Idempotent. The peer's endpoint is left as it is while the peer (same key) had a handshake
 * in the last {@link LIVE_HANDSHAKE_S} s: WireGuard roams to the address and port the peer's packets
 * really come from, which behind a NAT may differ from what the bundle says (a symmetric NAT's port).
 */
export function configureDevice(h: WgHost, name: string, c: WgDeviceConfig): void {
  // Only what differs is set: a device carrying traffic must not be touched. wireguard-go closes and
  // reopens its UDP socket on any `listen-port`, the current one included, and what arrives meanwhile is
  // lost (test/dataplane/wg-device.test.ts) — and every bundle applies every device's configuration.
  const cur = showDevice(h, name);
  const set: string[] = [];
  if (cur.publicKey !== publicKeyOf(readFileSync(c.privateKeyFile, 'utf8').trim())) set.push('private-key', c.privateKeyFile);
  if (cur.listenPort !== c.listenPort) set.push('listen-port', String(c.listenPort));
  if (c.peer) {
    const p = cur.peers.find((x) => x.publicKey === c.peer!.publicKey);
    const keepalive = c.peer.keepaliveS ?? 25;
    const live = p && p.endpoint !== null && p.latestHandshake > 0 && Date.now() / 1000 - p.latestHandshake < LIVE_HANDSHAKE_S;
    const peer = [
      ...(live || p?.endpoint === c.peer.endpoint ? [] : ['endpoint', c.peer.endpoint]),
      ...(p && [...p.allowedIps].sort().join(',') === ALLOWED_IPS ? [] : ['allowed-ips', ALLOWED_IPS]),
      ...(p?.keepaliveS === keepalive ? [] : ['persistent-keepalive', String(keepalive)]),
    ];
    if (peer.length) set.push('peer', c.peer.publicKey, ...peer);
  }
  if (set.length) run(h, ['wg', 'set', name, ...set]);
  for (const p of cur.peers) {
    if (p.publicKey !== c.peer?.publicKey) run(h, ['wg', 'set', name, 'peer', p.publicKey, 'remove']);
  }
  run(h, ['ip', 'addr', 'replace', `${c.address}/31`, 'dev', name]);
  run(h, ['ip', 'link', 'set', 'dev', name, 'mtu', String(c.mtu), 'up']);
  tryRun(h, ['sysctl', '-qw', `net.ipv4.conf.${name}.rp_filter=0`]);
}

/** A device's one peer takes every address: it carries exactly one path (sorted as compared). */
const ALLOWED_IPS = '0.0.0.0/0,::/0';

/** One peer as `wg show … dump` reports it. */
export interface WgPeerStatus {
  publicKey: string;
  endpoint: string | null;
  /** Seconds since the epoch of the last handshake, 0 = never. */
  latestHandshake: number;
  rxBytes: number;
  txBytes: number;
  /** Allowed IPs as configured; persistent keepalive in s (0 = off). */
  allowedIps: string[];
  keepaliveS: number;
}

/** The device's public key, port and peers (`wg show NAME dump`); the private key is read and dropped. */
export function showDevice(h: WgHost, name: string): { publicKey: string; listenPort: number; peers: WgPeerStatus[] } {
  const lines = run(h, ['wg', 'show', name, 'dump']).trim().split('\n');
  const head = lines[0]!.split('\t');
  return {
    publicKey: head[1]!, listenPort: Number(head[2]),
    peers: lines.slice(1).filter(Boolean).map((l) => {
      const f = l.split('\t');
      return {
        publicKey: f[0]!, endpoint: f[2] === '(none)' ? null : f[2]!, latestHandshake: Number(f[4]), rxBytes: Number(f[5]), txBytes: Number(f[6]),
        allowedIps: f[3] === '(none)' ? [] : f[3]!.split(','), keepaliveS: f[7] === 'off' ? 0 : Number(f[7]),
      };
    }),
  };
}

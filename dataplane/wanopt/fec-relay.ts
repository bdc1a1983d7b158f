/**
 * The FEC relay of an edge: UDP classes marked FEC in the intent are protected across the WAN by
 * Reed–Solomon (fec.ts) instead of being sent bare through the overlay.
 *
 * Sending: the LAN program hands a FEC class's UDP packets to the stack marked `PT_LOCAL_MARK | class`; a
 * policy rule per class routes them into that class's TUN device (`ptfec<class>`), where the relay reads
 * each whole IP packet, encodes it (one {@link FecEncoder} per (peer, class): the data packet at once, m
 * parity packets per k data packets, d blocks interleaved for depth d, a partial group closed after `holdMs / 2`) and sends the results in
 * UDP datagrams from the chosen path's WAN address to the peer's `port`. Receiving: one
 * {@link FecDecoder} per (sender address, class) rebuilds lost packets, restores their order, and the
 * relay writes them into the TUN device, from where the kernel forwards them to the LAN.
 *
 * Datagram: `0xFE | class id u8 | FEC packet (fec.ts header + payload)`. IPv4 inner packets only.
 *
 * Example: `const r = await FecRelay.start({ port: 7772, classes: [{ classId: 1, k: 8, m: 2, holdMs: 50 }],
 *   peerFor: (dst) => ({ key: 'edge2', address: '172.16.0.2', localAddress: '172.16.0.1' }) })`.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { FecDecoder, FecEncoder } from './fec.ts';
import type { PeerTarget } from './proxy.ts';
import { TunDevice } from './tun.ts';

/**
 * One FEC class: k data + m parity packets per block; the receiver waits `holdMs` for a missing packet;
 * `interleave` = block interleaving depth d (default 1 = off; see {@link FecEncoder}).
 */
export interface FecClass { classId: number; k: number; m: number; holdMs: number; interleave?: number }

/** Options of {@link FecRelay.start}. */
export interface FecRelayOptions {
  /** UDP port of the relay on every address (peers send to it). */
  port: number;
  classes: FecClass[];
  /** The peer for an inner packet's IPv4 destination; undefined drops the packet (counted). */
  peerFor: (dst: string, classId: number) => PeerTarget | undefined;
  /** TUN device name of a class, default `ptfec<classId>`. */
  tunName?: (classId: number) => string;
  /** Which senders' datagrams are decoded (default: any); the agent accepts its peers' WAN addresses only. */
  acceptFrom?: (address: string) => boolean;
}

/** Counters of the relay (packets). */
export interface FecRelayStats {
  /** Inner packets read from the TUN devices / sent without a peer. */
  fromLan: number; noPeer: number;
  /** Datagrams sent / received / malformed / refused (sender not accepted). */
  sent: number; received: number; malformed: number; refused: number;
  /** Inner packets delivered into the stack, rebuilt from parity, skipped as lost (receive side). */
  delivered: number; recovered: number; lost: number; late: number;
}

const MAGIC = 0xfe;
/** SO_RCVBUF / SO_SNDBUF asked for the relay's socket, bytes. */
const RELAY_SOCKET_BUFFER = 4 << 20;

export class FecRelay {
  readonly stats: FecRelayStats = { fromLan: 0, noPeer: 0, sent: 0, received: 0, malformed: 0, refused: 0, delivered: 0, recovered: 0, lost: 0, late: 0 };
  private readonly tuns = new Map<number, TunDevice>();
  private readonly encoders = new Map<string, { enc: FecEncoder; timer?: NodeJS.Timeout; peer: PeerTarget }>();
  private readonly decoders = new Map<string, FecDecoder>();
  private readonly classes: Map<number, FecClass>;
  private readonly ticker: NodeJS.Timeout;
  private closed = false;

  private constructor(private readonly opts: FecRelayOptions, private readonly sock: Socket) {
    this.classes = new Map(opts.classes.map((c) => [c.classId, c]));
    sock.on('message', (m, rinfo) => this.onDatagram(m, rinfo.address));
    this.ticker = setInterval(() => this.tick(), 5);
  }

  /** Bind the UDP port and create one TUN device per class (needs CAP_NET_ADMIN and the addon). */
  static async start(opts: FecRelayOptions): Promise<FecRelay> {
    // Large buffers: a busy edge's event loop can pause for tens of ms, and at thousands of packets/s the
    // default ~200 KiB receive buffer then overflows in bursts that no FEC block survives (the kernel caps
    // the size at net.core.rmem_max / wmem_max).
    const sock = createSocket({ type: 'udp4', reuseAddr: false, recvBufferSize: RELAY_SOCKET_BUFFER, sendBufferSize: RELAY_SOCKET_BUFFER });
    sock.bind(opts.port);
    await once(sock, 'listening');
    const r = new FecRelay(opts, sock);
    try {
      for (const c of opts.classes) {
        const name = opts.tunName?.(c.classId) ?? `ptfec${c.classId}`;
        r.tuns.set(c.classId, TunDevice.open(name, (p) => r.fromLan(c.classId, p)));
      }
    } catch (e) {
      r.close();
      throw e;
    }
    return r;
  }

  /** Names of the TUN devices by class id (the agent routes the class's marked packets into them). */
  devices(): Map<number, string> { return new Map([...this.tuns].map(([id, t]) => [id, t.name])); }

  private fromLan(classId: number, packet: Buffer): void {
    this.stats.fromLan++;
    if (packet.length < 20 || packet[0]! >> 4 !== 4) return;
    const dst = `${packet[16]}.${packet[17]}.${packet[18]}.${packet[19]}`;
    const peer = this.opts.peerFor(dst, classId);
    const c = this.classes.get(classId);
    if (!peer || !c) { this.stats.noPeer++; return; }
    const key = `${peer.key}|${classId}`;
    let e = this.encoders.get(key);
    if (!e) this.encoders.set(key, (e = { enc: new FecEncoder({ k: c.k, m: c.m, interleave: c.interleave ?? 1 }), peer }));
    e.peer = peer; // follows the steering choice
    this.send(e.peer, classId, e.enc.push(packet));
    if (e.enc.pendingCount === 0) {
      if (e.timer) { clearTimeout(e.timer); e.timer = undefined; }
    } else if (!e.timer) {
      // Close a partial block in time for the receiver's hold to still rebuild its losses.
      const ent = e;
      ent.timer = setTimeout(() => { ent.timer = undefined; this.send(ent.peer, classId, ent.enc.flush()); }, Math.max(1, c.holdMs >> 1));
    }
  }

  private send(peer: PeerTarget, classId: number, packets: Buffer[]): void {
    for (const p of packets) {
      const d = Buffer.allocUnsafe(2 + p.length);
      d[0] = MAGIC; d[1] = classId;
      p.copy(d, 2);
      this.stats.sent++;
      this.sock.send(d, peer.port ?? this.opts.port, peer.address);
    }
  }

  private onDatagram(m: Buffer, from: string): void {
    this.stats.received++;
    // Decoded packets enter the LAN: only peers may send them.
    if (this.opts.acceptFrom && !this.opts.acceptFrom(from)) { this.stats.refused++; return; }
    const c = m.length > 2 && m[0] === MAGIC ? this.classes.get(m[1]!) : undefined;
    if (!c) { this.stats.malformed++; return; }
    const key = `${from}|${c.classId}`;
    let d = this.decoders.get(key);
    if (!d) this.decoders.set(key, (d = new FecDecoder({ holdMs: c.holdMs })));
    this.deliver(c.classId, d.push(m.subarray(2), Date.now()));
  }

  private deliver(classId: number, packets: Buffer[]): void {
    const tun = this.tuns.get(classId);
    for (const p of packets) { this.stats.delivered++; tun?.write(p); }
  }

  private tick(): void {
    const now = Date.now();
    let recovered = 0, lost = 0, late = 0;
    for (const [key, d] of this.decoders) {
      this.deliver(Number(key.split('|')[1]), d.tick(now));
      recovered += d.stats.recovered; lost += d.order.stats.lost; late += d.order.stats.late;
    }
    this.stats.recovered = recovered; this.stats.lost = lost; this.stats.late = late;
  }

  /** Stop: close the socket and remove the TUN devices. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ticker);
    for (const e of this.encoders.values()) if (e.timer) clearTimeout(e.timer);
    for (const t of this.tuns.values()) t.close();
    try { this.sock.close(); } catch { /* already closed */ }
  }
}

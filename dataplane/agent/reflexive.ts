/**
 * Reflexive endpoints (docs/overlay.md, "NAT traversal"): what the outside sees of each WAN interface.
 * Per WAN interface of the bundle, one UDP socket bound to the interface address sends a plain probe
 * request (no receive-report block) to every probed peer's underlay address, on the responder port and on
 * the alternate port (responder port + 1, which every agent also answers on — STUN's "change port" test,
 * RFC 5780 §4.3). Each reply carries the address and port the reflector saw (probe codec `observed`).
 * Requests go in bursts, one round every {@link REFLEXIVE_INTERVAL_MS} until every interface is settled
 * (two answers, or none for a few rounds), when a bundle is loaded and when {@link ReflexiveDiscovery.relearn}
 * is called (the agent: a probed path came back up — the NAT may have been restarted); otherwise the
 * underlay of an encrypted transport carries nothing but WireGuard. From the replies of the last burst:
 * - `address`/`port`: the reflexive endpoint (the NAT's public side, or the interface itself without NAT);
 * - `mapping`: `endpoint-independent` when every answering destination saw the same address and port (a
 *   NAT that hole punching gets through), `endpoint-dependent` when they differ (symmetric / per-destination
 *   NAT: a peer behind such a NAT can only be reached through a relay), `unknown` with a single answer;
 * - `portPreserving`: the NAT kept the socket's own port — so a WireGuard device listening on port P is
 *   reachable at (reflexive address, P) once it has sent out through the NAT.
 * Bindings are kept alive by what crosses them all the time: WireGuard keepalives and the probes of each path.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { Bundle } from '../bundle/schema.ts';
import { decodeProbe, encodeProbe, PROBE_PORT } from '../probe/index.ts';

/** Time between two rounds of a burst (ms). */
export const REFLEXIVE_INTERVAL_MS = 1000;
/** Rounds without any answer before an interface is reported `none` instead of `pending`. */
const PENDING_ROUNDS = 3;
/** Rounds after which a burst ends even if not every interface settled. */
const MAX_ROUNDS = 10;

/** What one WAN interface learned, as GET /status reports it (`reflexive[]`). */
export interface ReflexiveStatus {
  interface: string;
  transport: string;
  localAddress: string;
  /** The discovery socket's own port (what a port-preserving NAT keeps). */
  localPort: number;
  /** `learned`: answers arrived; `pending`: none yet; `none`: no reflector answered for a few rounds. */
  state: 'learned' | 'pending' | 'none';
  /** The reflexive endpoint (most recent answer); null until learned. */
  address: string | null;
  port: number | null;
  mapping: 'endpoint-independent' | 'endpoint-dependent' | 'unknown' | null;
  portPreserving: boolean | null;
  /** Answers per reflector destination "a.b.c.d:port" in the last burst. */
  seenBy: Record<string, string>;
}

interface Iface {
  name: string;
  transport: string;
  localAddress: string;
  targets: string[];
  sock?: Socket;
  rounds: number;
  /** destination "addr:port" → observed "addr:port" and when. */
  answers: Map<string, { observed: string; at: number }>;
}

/** Example: `const r = new ReflexiveDiscovery(); await r.load(bundle); r.status(); await r.stop();` */
export class ReflexiveDiscovery {
  private ifaces: Iface[] = [];
  private timer?: NodeJS.Timeout;
  private seq = 0;
  private stopped = true;

  /** `probePort`: the responders' port at the peers (default 4784; the alternate is probePort + 1). */
  constructor(private readonly probePort = PROBE_PORT, private readonly now: () => number = Date.now) {}

  /** Start asking from every WAN interface of `bundle` with a probed path (stopping the previous bundle's sockets). */
  async load(bundle: Bundle): Promise<void> {
    await this.stop();
    const byIf = new Map<string, Iface>();
    for (const p of bundle.paths) {
      if (!p.probe) continue;
      const i: Iface = byIf.get(p.localInterface) ?? { name: p.localInterface, transport: p.transport, localAddress: p.localAddress, targets: [], rounds: 0, answers: new Map() };
      for (const port of [this.probePort, this.probePort + 1]) {
        const t = `${p.remoteAddress}:${port}`;
        if (!i.targets.includes(t)) i.targets.push(t);
      }
      byIf.set(p.localInterface, i);
    }
    this.ifaces = [...byIf.values()].filter((i) => !i.localAddress.includes(':'));
    this.stopped = false;
    for (const i of this.ifaces) {
      const s = createSocket('udp4');
      s.on('message', (buf, rinfo) => {
        const d = decodeProbe(buf);
        if (!d.ok || d.msg.type !== 'reply' || !d.msg.observed) return;
        i.answers.set(`${rinfo.address}:${rinfo.port}`, { observed: `${d.msg.observed.address}:${d.msg.observed.port}`, at: this.now() });
      });
      // An unreachable reflector (ICMP) must not end the agent.
      s.on('error', () => {});
      try {
        await new Promise<void>((resolve, reject) => { s.once('error', reject); s.bind(0, i.localAddress, () => { s.off('error', reject); resolve(); }); });
        i.sock = s;
      } catch { s.close(); }
    }
    this.relearn();
  }

  /** Start a burst (no-op while one runs): forget the last answers and ask again until settled. */
  relearn(): void {
    if (this.timer || this.stopped) return;
    for (const i of this.ifaces) { i.answers.clear(); i.rounds = 0; }
    this.round();
    this.timer = setInterval(() => this.round(), REFLEXIVE_INTERVAL_MS);
    this.timer.unref();
  }

  private settled(i: Iface): boolean {
    return !i.sock || i.answers.size >= 2 || (i.answers.size === 0 && i.rounds > PENDING_ROUNDS);
  }

  private round(): void {
    if (this.ifaces.every((i) => this.settled(i)) || this.ifaces.every((i) => i.rounds >= MAX_ROUNDS)) {
      clearInterval(this.timer);
      this.timer = undefined;
      return;
    }
    for (const i of this.ifaces) {
      if (this.settled(i)) continue;
      if (!i.sock) continue;
      i.rounds++;
      const req = encodeProbe({ type: 'request', pathId: 0, seq: this.seq++, senderTs: this.now(), reflectorRxTs: 0, reflectorTxTs: 0 });
      for (const t of i.targets) {
        const [addr, port] = [t.slice(0, t.lastIndexOf(':')), Number(t.slice(t.lastIndexOf(':') + 1))];
        i.sock.send(req, port, addr);
      }
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.stopped = true;
    for (const i of this.ifaces) { try { i.sock?.close(); } catch { /* closed */ } }
    this.ifaces = [];
  }

  status(): ReflexiveStatus[] {
    return this.ifaces.map((i): ReflexiveStatus => {
      const fresh = [...i.answers].sort((a, b) => b[1].at - a[1].at);
      const localPort = (() => { try { return i.sock?.address().port ?? 0; } catch { return 0; } })();
      const base = { interface: i.name, transport: i.transport, localAddress: i.localAddress, localPort, seenBy: Object.fromEntries(fresh.map(([d, a]) => [d, a.observed])) };
      if (!fresh.length) return { ...base, state: i.rounds > PENDING_ROUNDS ? 'none' : 'pending', address: null, port: null, mapping: null, portPreserving: null };
      const latest = fresh[0]![1].observed;
      const cut = latest.lastIndexOf(':');
      const distinct = new Set(fresh.map(([, a]) => a.observed));
      const mapping = distinct.size > 1 ? 'endpoint-dependent' : fresh.length > 1 ? 'endpoint-independent' : 'unknown';
      const port = Number(latest.slice(cut + 1));
      return { ...base, state: 'learned', address: latest.slice(0, cut), port, mapping, portPreserving: distinct.size === 1 && port === localPort };
    });
  }
}

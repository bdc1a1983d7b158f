/**
 * The probe reflector: a UDP socket (default port 4784) that answers every valid request with a reply of
 * the same size carrying the request's path id, sequence and sender timestamp, its own receive and transmit
 * timestamps, and the source address and port it saw (the sender's reflexive address behind NAT).
 * Anything that is not a valid request is counted and ignored — never answered.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { decodeProbe, encodeProbe, PROBE_PORT, type ProbeDecodeError, type RxReport } from './codec.ts';
import type { Clock } from './clock.ts';

/** Responder settings. */
export interface ResponderOptions {
  /** Address to bind; default "0.0.0.0" (use "::" for IPv6). */
  address?: string;
  /** UDP port; default 4784; 0 picks a free one (see {@link Responder.port}). */
  port?: number;
  /** Timestamps source; default the host clock. */
  clock?: Clock;
  /**
   * The data plane's receive counters for data the requester sends on its path `pathId` from `address`
   * (undefined when unknown). Answered only to requests that carry the report block, so a reply never
   * grows. Example (agent): `(a, id) => overlay.rxCounters(a, id)`.
   */
  rxReport?: (address: string, pathId: number) => RxReport | undefined;
}

/** Example: `const r = new Responder({port: 4784}); await r.start(); … await r.stop();` */
export class Responder {
  readonly counters = { replied: 0, ignored: 0, malformed: {} as Partial<Record<ProbeDecodeError['code'], number>> };
  private sock?: Socket;
  private readonly clock: Clock;

  constructor(readonly opts: ResponderOptions = {}) {
    this.clock = opts.clock ?? { now: () => Date.now() };
  }

  /** The bound port (after start). */
  get port(): number {
    return this.sock?.address().port ?? 0;
  }

  async start(): Promise<void> {
    const address = this.opts.address ?? '0.0.0.0';
    const sock = createSocket({ type: isIPv6(address) ? 'udp6' : 'udp4' });
    sock.on('message', (buf, rinfo) => {
      const rx = this.clock.now();
      const d = decodeProbe(buf);
      if (!d.ok) { this.counters.malformed[d.error.code] = (this.counters.malformed[d.error.code] ?? 0) + 1; return; }
      if (d.msg.type !== 'request') { this.counters.ignored++; return; }
      let report: RxReport | undefined;
      if (d.msg.ext && this.opts.rxReport) {
        try { report = this.opts.rxReport(rinfo.address, d.msg.pathId); } catch { /* no report rather than no reply */ }
      }
      const { rxReport: _ignored, ...req } = d.msg;
      const reply = encodeProbe({ ...req, type: 'reply', reflectorRxTs: rx, reflectorTxTs: this.clock.now(), observed: { address: rinfo.address, port: rinfo.port }, ...(report && { rxReport: report }) });
      this.counters.replied++;
      sock.send(reply, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(this.opts.port ?? PROBE_PORT, address, () => { sock.off('error', reject); resolve(); });
    });
    // After bind, a send error (e.g. an unreachable sender) must not crash the agent.
    sock.on('error', () => { this.counters.ignored++; });
    this.sock = sock;
  }

  async stop(): Promise<void> {
    const s = this.sock;
    this.sock = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

/**
 * The WAN-opt TCP proxy pair. On the sending edge, intercepted connections (TPROXY, intercept.ts) become
 * flows of one {@link WanoptSession} per peer edge; on the receiving edge, each flow becomes a connection
 * to the original destination, and bytes are relayed both ways.
 *
 * Relaying keeps TCP's semantics end to end: a half-close (FIN) becomes the flow's CLOSE and the far
 * socket's `end()`, the other direction keeps flowing; an abort (RST, socket error) becomes a flow RESET and
 * a reset of the far socket (`resetAndDestroy`); a failed connect to the original destination resets the
 * intercepted client. Back-pressure: a socket is read only as fast as its flow has credit (the session's
 * per-flow window) and a flow is read only as fast as its socket drains (`pipe`), so a stalled reader
 * stalls only its own connection.
 *
 * The session connection runs over the underlay: the sending edge connects from the local WAN address of
 * the path the caller picks (the steering choice for the class) to the peer's WAN address, port
 * `sessionPort`. The receiving edge connects to the destination from its own address (the server sees the
 * edge, not the client, as the source).
 *
 * Example:
 *   const proxy = new WanoptProxy({ store, interceptPort: 7770, sessionPort: 7771,
 *     peerFor: (dst) => ({ key: 'edge2', address: '100.64.0.6', localAddress: '100.64.0.2' }) });
 *   await proxy.start();  …  await proxy.close();
 */
import { EventEmitter, once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WanoptError } from './errors.ts';
import { listenTransparent, type OriginalDestination } from './intercept.ts';
import { type SessionOptions, type SessionStats, WanoptSession, type WanoptFlow } from './session.ts';
import type { ChunkStore } from './store.ts';

/** Where the session for an intercepted connection goes; `key` names the peer (one session per key). */
export interface PeerTarget {
  key: string;
  /** Peer WAN address and session port (default the proxy's `sessionPort`). */
  address: string;
  port?: number;
  /** Local address to bind the session connection to (the chosen path's WAN address). */
  localAddress?: string;
}

/** Options of {@link WanoptProxy}. */
export interface ProxyOptions {
  /** This edge's chunk store, shared by all sessions. */
  store: ChunkStore;
  /** Port of the transparent listener on 127.0.0.1 (the TPROXY target); 0 = do not intercept. */
  interceptPort: number;
  /** Port peers' sessions connect to (plain TCP on `sessionHost`); 0 = do not accept sessions. */
  sessionPort: number;
  /** Address the session listener binds, default '0.0.0.0'. */
  sessionHost?: string;
  /** Network namespace (under /run/netns) of the transparent listener; default the current one. */
  netns?: string;
  /** The peer edge for an intercepted connection's original destination; undefined resets the connection. */
  peerFor: (dst: OriginalDestination) => PeerTarget | undefined;
  /** Session tuning (chunking, compression, window). */
  session?: Omit<SessionOptions, 'role' | 'store'>;
  /** Connect timeout to a peer or a destination, ms (default 5000). */
  connectTimeoutMs?: number;
  /**
   * Which remote addresses may open a session (default: any). A session makes this edge connect wherever
   * its flows say, so an edge accepts sessions from its peers' WAN addresses only.
   */
  acceptFrom?: (address: string) => boolean;
}

/** Counters of the proxy: sessions and flows, plus the sum of all sessions' {@link SessionStats}. */
export interface ProxyStats extends SessionStats {
  sessions: number;
  flowsIntercepted: number;
  flowsAccepted: number;
  flowsFailed: number;
  activeFlows: number;
  /** Session connections refused by `acceptFrom`. */
  sessionsRefused: number;
}

const emptyStats = (): SessionStats => ({ rawOut: 0, rawIn: 0, wireOut: 0, wireIn: 0, literalsOut: 0, refsOut: 0, refsIn: 0, requestsOut: 0, requestsIn: 0, resendsOut: 0 });

/** Encode the original destination as flow metadata: `address:port` (IPv4). */
export function encodeDestination(d: OriginalDestination): Buffer { return Buffer.from(`${d.address}:${d.port}`); }

/** Parse flow metadata from {@link encodeDestination}; undefined when it is not `a.b.c.d:port`. */
export function decodeDestination(meta: Buffer): OriginalDestination | undefined {
  const m = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(meta.toString('latin1'));
  if (!m) return undefined;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { address: m[1]!, port } : undefined;
}

/**
 * Relay bytes between a socket and a flow in both directions with half-close and reset propagation.
 * `onDone` runs once, when both are finished or one was aborted.
 */
export function relay(sock: Socket, flow: Duplex, onDone: (err?: Error) => void): void {
  let done = false, sockEnded = false, flowEnded = false;
  const finish = (err?: Error) => { if (!done) { done = true; onDone(err); } };
  sock.pipe(flow);
  flow.pipe(sock);
  sock.on('end', () => { sockEnded = true; if (flowEnded) finish(); });
  flow.on('end', () => { flowEnded = true; if (sockEnded) finish(); });
  sock.on('error', (e) => { flow.destroy(e); finish(e); });
  flow.on('error', (e) => { if (!sock.destroyed) sock.resetAndDestroy(); finish(e); });
  sock.on('close', (hadError) => {
    // A socket closed before both directions ended is an abort; tell the peer.
    if (!(sockEnded && flowEnded) && !flow.destroyed) flow.destroy(new WanoptError(hadError ? 'connection reset' : 'connection closed early'));
    finish();
  });
  flow.on('close', () => {
    if (!(sockEnded && flowEnded) && !sock.destroyed) sock.resetAndDestroy();
    else if (!sock.destroyed && sock.writableFinished) sock.destroy();
  });
}

/** The proxy of one edge: intercepting side and receiving side (see the module comment). */
export class WanoptProxy extends EventEmitter {
  private readonly sessions = new Map<string, Promise<WanoptSession>>();
  private readonly all = new Set<WanoptSession>();
  private readonly sockets = new Set<Socket>();
  private intercept?: Server;
  private server?: Server;
  private closed = false;
  private readonly counts = { flowsIntercepted: 0, flowsAccepted: 0, flowsFailed: 0, activeFlows: 0, sessionsRefused: 0 };
  // Stats of sessions already gone, so totals never go backwards.
  private readonly gone = emptyStats();

  constructor(private readonly opts: ProxyOptions) { super(); }

  /** Start the listeners (transparent one needs the native addon and IP_TRANSPARENT rights). */
  async start(): Promise<void> {
    if (this.opts.sessionPort) {
      const srv = createServer({ allowHalfOpen: true }, (sock) => this.acceptSession(sock));
      srv.listen(this.opts.sessionPort, this.opts.sessionHost ?? '0.0.0.0');
      await once(srv, 'listening');
      this.server = srv;
    }
    if (this.opts.interceptPort) {
      this.intercept = await listenTransparent({ port: this.opts.interceptPort, ...(this.opts.netns && { netns: this.opts.netns }) },
        (sock, dst) => this.carry(sock, dst));
    }
  }

  /** Totals over all sessions, alive and gone. */
  stats(): ProxyStats {
    const t = { ...this.gone };
    for (const s of this.all) for (const k of Object.keys(t) as (keyof SessionStats)[]) t[k] += s.stats[k];
    return { ...t, sessions: this.all.size, ...this.counts };
  }

  /** Stop listening, end every session and connection. */
  async close(): Promise<void> {
    this.closed = true;
    const stop = (s?: Server) => new Promise<void>((r) => (s ? s.close(() => r()) : r()));
    for (const s of this.sockets) s.destroy();
    for (const s of this.all) s.close();
    await Promise.all([stop(this.intercept), stop(this.server)]);
  }

  private track(s: Socket): Socket {
    this.sockets.add(s);
    s.on('close', () => this.sockets.delete(s));
    return s;
  }

  private adopt(s: WanoptSession): void {
    this.all.add(s);
    s.on('error', (e) => this.emit('warning', e));
    s.on('close', () => {
      if (!this.all.delete(s)) return;
      for (const k of Object.keys(this.gone) as (keyof SessionStats)[]) this.gone[k] += s.stats[k];
    });
  }

  /**
   * Carry a connection whose original destination is `dst` through the session to the peer `peerFor`
   * names (what the transparent listener does with every intercepted connection; tests call it directly).
   */
  carry(sock: Socket, dst: OriginalDestination): void {
    this.track(sock);
    sock.pause();
    const peer = this.closed ? undefined : this.opts.peerFor(dst);
    if (!peer) { this.counts.flowsFailed++; sock.resetAndDestroy(); return; }
    this.counts.flowsIntercepted++;
    this.sessionTo(peer).then((session) => {
      if (sock.destroyed) return;
      const flow = session.openFlow(encodeDestination(dst));
      this.counts.activeFlows++;
      relay(sock, flow, (err) => { this.counts.activeFlows--; if (err) this.counts.flowsFailed++; });
      sock.resume();
    }, (e) => {
      this.counts.flowsFailed++;
      this.emit('warning', e);
      sock.resetAndDestroy();
    });
  }

  private sessionTo(peer: PeerTarget): Promise<WanoptSession> {
    const had = this.sessions.get(peer.key);
    if (had) return had;
    const p = new Promise<WanoptSession>((resolve, reject) => {
      const sock = this.track(connect({ host: peer.address, port: peer.port ?? this.opts.sessionPort, allowHalfOpen: true,
        ...(peer.localAddress && { localAddress: peer.localAddress }), noDelay: true }));
      const timer = setTimeout(() => sock.destroy(new WanoptError(`wanopt proxy: session to ${peer.key} (${peer.address}): connect timed out`)), this.opts.connectTimeoutMs ?? 5000);
      sock.once('error', (e) => { clearTimeout(timer); reject(new WanoptError(`wanopt proxy: session to ${peer.key} (${peer.address}): ${e.message}`, { cause: e })); });
      sock.once('connect', () => {
        clearTimeout(timer);
        const s = new WanoptSession(sock, { role: 'client', store: this.opts.store, ...this.opts.session });
        this.adopt(s);
        s.on('close', () => { if (this.sessions.get(peer.key) === p) this.sessions.delete(peer.key); });
        resolve(s);
      });
    });
    this.sessions.set(peer.key, p);
    p.catch(() => { if (this.sessions.get(peer.key) === p) this.sessions.delete(peer.key); });
    return p;
  }

  private acceptSession(sock: Socket): void {
    this.track(sock);
    const from = (sock.remoteAddress ?? '').replace(/^::ffff:/, '');
    if (this.opts.acceptFrom && !this.opts.acceptFrom(from)) {
      this.counts.sessionsRefused++;
      sock.destroy();
      return;
    }
    sock.setNoDelay(true);
    const s = new WanoptSession(sock, { role: 'server', store: this.opts.store, ...this.opts.session });
    this.adopt(s);
    s.on('flow', (flow: WanoptFlow, meta: Buffer) => this.onFlow(flow, meta));
  }

  private onFlow(flow: WanoptFlow, meta: Buffer): void {
    // Failures are counted here or by relay(); an aborted flow's error needs no other listener.
    flow.on('error', () => {});
    const dst = decodeDestination(meta);
    if (!dst) { this.counts.flowsFailed++; flow.destroy(new WanoptError(`wanopt proxy: flow metadata is not address:port: ${JSON.stringify(meta.toString('latin1').slice(0, 64))}`)); return; }
    this.counts.flowsAccepted++;
    const out = this.track(connect({ host: dst.address, port: dst.port, allowHalfOpen: true, noDelay: true }));
    const timer = setTimeout(() => out.destroy(new WanoptError(`wanopt proxy: connect to ${dst.address}:${dst.port} timed out`)), this.opts.connectTimeoutMs ?? 5000);
    const failed = (e: Error) => { clearTimeout(timer); this.counts.flowsFailed++; flow.destroy(new WanoptError(`wanopt proxy: connect to ${dst.address}:${dst.port}: ${e.message}`, { cause: e })); };
    out.once('error', failed);
    out.once('connect', () => {
      clearTimeout(timer);
      out.off('error', failed);
      this.counts.activeFlows++;
      relay(out, flow, (err) => { this.counts.activeFlows--; if (err) this.counts.flowsFailed++; });
    });
  }
}

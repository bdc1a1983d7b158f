/**
 * The BGP finite state machine of RFC 4271 §8: one handler per state (Idle, Connect, Active, OpenSent,
 * OpenConfirm, Established) that takes an event and returns the next state with a reason. The TCP
 * connection and the clock are injected ({@link Connection}, {@link Dialer}, {@link Clock}) so tests drive
 * a session with fake ones; the speaker passes node:net sockets and the system clock.
 *
 * Connection collision (§6.8): an incoming connection while we are in OpenSent/OpenConfirm runs its own
 * OPEN exchange; when its OPEN arrives the BGP identifiers decide which connection survives (the loser
 * gets Cease / Connection Collision Resolution). In Established an incoming connection is refused the same way.
 */
import {
  AFI_IPV4, AFI_IPV6, AS_TRANS, ErrCode, SAFI_UNICAST, decodeMessage, encodeKeepalive, encodeMessage, encodeNotification, frameLength, notificationText, parseIpv4,
  type BgpError, type BgpMessage, type CodecContext, type Family, type OpenMessage, type UpdateMessage,
} from './codec/index.ts';

export type State = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

/** A byte-stream connection (a TCP socket in production, an in-memory pipe in tests). */
export interface Connection {
  write(bytes: Uint8Array): void;
  /** Closes after pending writes are flushed. Idempotent. */
  close(): void;
  /** Registers the receivers; called once by the session that owns the connection. */
  listen(onData: (bytes: Uint8Array) => void, onClose: () => void): void;
  readonly localAddress: string;
  readonly remoteAddress: string;
}

/** Opens outgoing connections to the peer; the promise rejects when the connection fails. */
export interface Dialer { dial(): Promise<Connection> }

/** Timers in milliseconds; the system clock or a fake one a test advances by hand. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => { const t = setTimeout(fn, ms); t.unref?.(); return t; },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * One neighbour's session parameters. Times in seconds. Example:
 * `{ localAsn: 65010, routerId: '10.0.0.1', peerAsn: 65001, holdTime: 3, passive: false }`.
 */
export interface SessionConfig {
  localAsn: number;
  routerId: string;
  peerAsn: number;
  /** Proposed hold time (default 90 s; 0 disables keepalives; otherwise ≥ 3). */
  holdTime?: number;
  /** Keepalive interval (default a third of the negotiated hold time). */
  keepaliveTime?: number;
  /** Wait between connection attempts (default 120 s per RFC 4271; the twin uses 1 s). */
  connectRetryTime?: number;
  /** Wait in Idle before restarting after an error (default 5 s). */
  idleHoldTime?: number;
  /** Never dial; only accept the peer's connection. Default false. */
  passive?: boolean;
  /** Families announced in the multiprotocol capability (default IPv4 and IPv6 unicast). */
  families?: Family[];
  /** Hand UPDATEs over with IPv4 prefixes undecoded (`CodecContext.rawNlri`); default false. */
  rawNlri?: boolean;
}

/** What a session found out when it reached Established. */
export interface SessionInfo {
  peerRouterId: string;
  /** Negotiated hold time, seconds. */
  holdTime: number;
  ctx: CodecContext;
  open: OpenMessage;
  localAddress: string;
  remoteAddress: string;
}

/** Receivers of what a session does; all optional. */
export interface SessionHooks {
  stateChange?(from: State, to: State, reason: string): void;
  established?(info: SessionInfo): void;
  /** The session left Established: every route learned over it is gone. */
  down?(reason: string): void;
  update?(msg: UpdateMessage): void;
  routeRefresh?(afi: number, safi: number): void;
}

export type FsmEvent =
  | { type: 'start' }
  | { type: 'stop'; subcode?: number }
  | { type: 'connect-retry-expired' }
  | { type: 'hold-expired' }
  | { type: 'keepalive-expired' }
  | { type: 'tcp-connected'; conn: Connection }
  | { type: 'tcp-failed' }
  | { type: 'tcp-incoming'; conn: Connection }
  | { type: 'tcp-closed' }
  | { type: 'message'; msg: BgpMessage }
  | { type: 'decode-error'; error: BgpError };

/** A handler's verdict: the next state (possibly the same) and why. */
export interface Transition { next: State; reason: string }
type Handler = (s: Session, e: FsmEvent) => Transition | undefined;

/** Splits a byte stream into messages and decodes them with the session's current codec context. */
class Framer {
  private buf: Uint8Array = new Uint8Array(0);
  push(chunk: Uint8Array, ctx: CodecContext, out: (m: { ok: true; msg: BgpMessage } | { ok: false; error: BgpError }) => boolean): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let off = 0;
    for (;;) {
      const n = frameLength(this.buf, off);
      if (typeof n !== 'number') { out({ ok: false, error: n }); this.buf = new Uint8Array(0); return; }
      if (n === 0) break;
      const r = decodeMessage(this.buf.subarray(off, off + n), ctx);
      off += n;
      if (!out(r)) { this.buf = new Uint8Array(0); return; }
    }
    this.buf = off === this.buf.length ? new Uint8Array(0) : this.buf.subarray(off);
  }
}

const ipNum = (ip: string) => { const b = parseIpv4(ip)!; return ((b[0]! << 24) >>> 0) + (b[1]! << 16) + (b[2]! << 8) + b[3]!; };
const to = (next: State, reason: string): Transition => ({ next, reason });

/** Sends a NOTIFICATION for a decode error or an FSM problem and goes to Idle. */
function fail(s: Session, code: number, subcode: number, reason: string, data?: Uint8Array): Transition {
  s.send(encodeNotification(code, subcode, data));
  return to('Idle', `sent ${notificationText(code, subcode)}: ${reason}`);
}

function common(s: Session, e: FsmEvent): Transition | undefined {
  switch (e.type) {
    case 'stop': return fail(s, ErrCode.CEASE, e.subcode ?? 2, 'stopped');
    case 'hold-expired': return fail(s, ErrCode.HOLD_TIMER, 0, 'hold timer expired');
    case 'tcp-closed': return to('Idle', 'connection closed by peer');
    case 'decode-error': return fail(s, e.error.code, e.error.subcode, e.error.reason, e.error.data);
    case 'message':
      if (e.msg.type === 'notification') return to('Idle', `received ${notificationText(e.msg.code, e.msg.subcode)}`);
      return undefined;
    default: return undefined;
  }
}

const handlers: Record<State, Handler> = {
  Idle(s, e) {
    if (e.type === 'tcp-incoming') { e.conn.close(); return undefined; }
    if (e.type !== 'start') return undefined;
    if (s.cfg.passive) return to('Active', 'started passive: waiting for the peer');
    s.dial();
    return to('Connect', 'started: connecting');
  },
  Connect(s, e) {
    switch (e.type) {
      case 'connect-retry-expired': s.dial(); return to('Connect', 'connect retry');
      case 'tcp-connected': s.adopt(e.conn, true); s.sendOpen(); return to('OpenSent', 'connected');
      case 'tcp-incoming': s.adopt(e.conn, false); s.sendOpen(); return to('OpenSent', 'peer connected');
      case 'tcp-failed': return to('Active', 'connection attempt failed');
      case 'stop': return to('Idle', 'stopped');
      default: return undefined;
    }
  },
  Active(s, e) {
    switch (e.type) {
      case 'connect-retry-expired':
        if (s.cfg.passive) return undefined;
        s.dial();
        return to('Connect', 'connect retry');
      case 'tcp-connected': s.adopt(e.conn, true); s.sendOpen(); return to('OpenSent', 'connected');
      case 'tcp-incoming': s.adopt(e.conn, false); s.sendOpen(); return to('OpenSent', 'peer connected');
      case 'stop': return to('Idle', 'stopped');
      default: return undefined;
    }
  },
  OpenSent(s, e) {
    if (e.type === 'tcp-closed') { s.drop(); return to('Active', 'connection closed before OPEN'); }
    if (e.type === 'tcp-incoming') { s.collisionCandidate(e.conn); return undefined; }
    if (e.type !== 'message' || e.msg.type === 'notification') return common(s, e);
    if (e.msg.type !== 'open') return fail(s, ErrCode.FSM, 1, `${e.msg.type} in OpenSent`);
    const bad = s.checkOpen(e.msg);
    if (bad) return fail(s, ErrCode.OPEN, bad.subcode, bad.reason);
    s.acceptOpen(e.msg);
    return to('OpenConfirm', 'OPEN received');
  },
  OpenConfirm(s, e) {
    if (e.type === 'keepalive-expired') { s.sendKeepalive(); return undefined; }
    if (e.type === 'tcp-incoming') { s.collisionCandidate(e.conn); return undefined; }
    if (e.type !== 'message' || e.msg.type === 'notification') return common(s, e);
    if (e.msg.type === 'keepalive') { s.restartHold(); return to('Established', 'KEEPALIVE received'); }
    return fail(s, ErrCode.FSM, 2, `${e.msg.type} in OpenConfirm`);
  },
  Established(s, e) {
    if (e.type === 'keepalive-expired') { s.sendKeepalive(); return undefined; }
    if (e.type === 'tcp-incoming') { e.conn.write(encodeNotification(ErrCode.CEASE, 7)); e.conn.close(); return undefined; }
    if (e.type !== 'message' || e.msg.type === 'notification') return common(s, e);
    s.restartHold();
    switch (e.msg.type) {
      case 'keepalive': return undefined;
      case 'update': s.hooks.update?.(e.msg); return undefined;
      case 'route-refresh': s.hooks.routeRefresh?.(e.msg.afi, e.msg.safi); return undefined;
      default: return fail(s, ErrCode.FSM, 3, `${e.msg.type} in Established`);
    }
  },
};

/**
 * One BGP session with one neighbour. Drive it with {@link Session.start}, {@link Session.stop} and
 * {@link Session.incoming}; watch it through {@link SessionHooks}. After an error it waits
 * `idleHoldTime` in Idle and starts again, until stopped.
 * Example: `const s = new Session(cfg, dialer, systemClock, { update: (m) => rib.apply(m) }); s.start();`
 */
export class Session {
  state: State = 'Idle';
  /** Codec context: 4-octet AS once both sides announced it. */
  ctx: CodecContext = { as4: false };
  info: SessionInfo | undefined;
  /** Last transition reason, for status displays. */
  lastReason = 'configured';
  private conn: Connection | undefined;
  private connLocal = false;
  private peerOpen: OpenMessage | undefined;
  private other: { conn: Connection; framer: Framer } | undefined;
  private timers = new Map<string, unknown>();
  private dialSeq = 0;
  private autoStart = false;
  private negotiatedHold = 0;
  private busy = false;
  private queue: FsmEvent[] = [];

  constructor(readonly cfg: SessionConfig, private readonly dialer: Dialer, private readonly clock: Clock, readonly hooks: SessionHooks = {}) {}

  start(): void { this.autoStart = true; this.dispatch({ type: 'start' }); }
  /** Stops with Cease / Administrative Shutdown (subcode 2) unless told otherwise; no restart. */
  stop(subcode = 2): void { this.autoStart = false; this.clearTimer('idle-hold'); this.dispatch({ type: 'stop', subcode }); }
  /** Hands the session a connection the peer opened to us. */
  incoming(conn: Connection): void { this.dispatch({ type: 'tcp-incoming', conn }); }

  /** Runs one event through the current state's handler; events raised meanwhile are queued. */
  dispatch(e: FsmEvent): void {
    this.queue.push(e);
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.queue.length) {
        const ev = this.queue.shift()!;
        const t = handlers[this.state](this, ev);
        if (t) this.enter(t);
      }
    } finally { this.busy = false; }
  }

  private enter(t: Transition): void {
    const from = this.state;
    this.lastReason = t.reason;
    this.state = t.next;
    if (t.next === 'Idle') this.reset();
    if (t.next === 'Connect' || (t.next === 'Active' && !this.cfg.passive)) this.setTimer('connect-retry', this.cfg.connectRetryTime ?? 120, { type: 'connect-retry-expired' });
    if (t.next === 'OpenSent' && from !== 'OpenSent') { this.clearTimer('connect-retry'); this.setTimer('hold', 240, { type: 'hold-expired' }); }
    if (from === t.next) return;
    this.hooks.stateChange?.(from, t.next, t.reason);
    if (t.next === 'Established') this.hooks.established?.(this.info!);
    if (from === 'Established') this.hooks.down?.(t.reason);
    if (t.next === 'Idle' && this.autoStart) {
      const idle = this.cfg.idleHoldTime ?? 5;
      this.timers.set('idle-hold', this.clock.setTimeout(() => { this.timers.delete('idle-hold'); this.dispatch({ type: 'start' }); }, idle * 1000));
    }
  }

  /** Back to a clean Idle: timers stopped, connections closed (after any NOTIFICATION already written). */
  private reset(): void {
    for (const k of [...this.timers.keys()]) this.clearTimer(k);
    this.drop();
    if (this.other) { this.other.conn.close(); this.other = undefined; }
    this.dialSeq++;
    this.ctx = { as4: false };
    this.peerOpen = undefined;
  }

  // ---- actions used by the handlers ----

  dial(): void {
    const seq = ++this.dialSeq;
    this.dialer.dial().then(
      (conn) => { if (seq === this.dialSeq) this.dispatch({ type: 'tcp-connected', conn }); else conn.close(); },
      () => { if (seq === this.dialSeq) this.dispatch({ type: 'tcp-failed' }); },
    );
  }

  adopt(conn: Connection, local: boolean): void {
    this.dialSeq++; // any dial still in flight is now stale
    this.conn = conn;
    this.connLocal = local;
    const framer = new Framer();
    conn.listen(
      (b) => { if (this.conn === conn) framer.push(b, this.ctx, (r) => { if (this.conn !== conn) return false; this.dispatch(r.ok ? { type: 'message', msg: r.msg } : { type: 'decode-error', error: r.error }); return this.conn === conn; }); },
      () => { if (this.conn === conn) this.dispatch({ type: 'tcp-closed' }); },
    );
  }

  drop(): void { if (this.conn) { const c = this.conn; this.conn = undefined; c.close(); } }

  send(bytes: Uint8Array): void { this.conn?.write(bytes); }
  sendKeepalive(): void { this.send(encodeKeepalive()); this.armKeepalive(); }
  sendOpen(conn?: Connection): void { (conn ?? this.conn)?.write(encodeMessage(this.ourOpen(), this.ctx)); }

  ourOpen(): OpenMessage {
    const c = this.cfg;
    return {
      type: 'open', version: 4, myAs: c.localAsn > 0xffff ? AS_TRANS : c.localAsn, holdTime: c.holdTime ?? 90, routerId: c.routerId,
      capabilities: { multiprotocol: c.families ?? [{ afi: AFI_IPV4, safi: SAFI_UNICAST }, { afi: AFI_IPV6, safi: SAFI_UNICAST }], routeRefresh: true, as4: c.localAsn, unknown: [] },
    };
  }

  /** OPEN checks of RFC 4271 §6.2 the codec cannot make: peer AS and BGP identifier. */
  checkOpen(m: OpenMessage): { subcode: number; reason: string } | undefined {
    const peerAs = m.capabilities.as4 ?? m.myAs;
    if (peerAs !== this.cfg.peerAsn) return { subcode: 2, reason: `peer AS ${peerAs}, configured ${this.cfg.peerAsn}` };
    if (m.routerId === this.cfg.routerId) return { subcode: 3, reason: `peer BGP identifier ${m.routerId} equals ours` };
    return undefined;
  }

  acceptOpen(m: OpenMessage): void {
    this.peerOpen = m;
    this.ctx = this.cfg.rawNlri ? { as4: m.capabilities.as4 !== undefined, rawNlri: true } : { as4: m.capabilities.as4 !== undefined };
    const ours = this.cfg.holdTime ?? 90;
    this.negotiatedHold = Math.min(ours, m.holdTime);
    this.info = { peerRouterId: m.routerId, holdTime: this.negotiatedHold, ctx: this.ctx, open: m, localAddress: this.conn?.localAddress ?? '', remoteAddress: this.conn?.remoteAddress ?? '' };
    this.send(encodeKeepalive());
    this.armKeepalive();
    this.restartHold();
  }

  restartHold(): void {
    if (this.negotiatedHold === 0) { this.clearTimer('hold'); return; }
    this.setTimer('hold', this.negotiatedHold, { type: 'hold-expired' });
  }

  private armKeepalive(): void {
    if (this.negotiatedHold === 0) return;
    const ka = this.cfg.keepaliveTime ?? Math.max(1, Math.floor(this.negotiatedHold / 3));
    this.setTimer('keepalive', ka, { type: 'keepalive-expired' });
  }

  /**
   * A second connection during OpenSent/OpenConfirm: exchange OPENs on it, then keep the connection
   * RFC 4271 §6.8 picks (the one initiated by the side with the higher BGP identifier).
   */
  collisionCandidate(conn: Connection): void {
    if (this.other) { conn.close(); return; }
    const framer = new Framer();
    this.other = { conn, framer };
    conn.listen(
      (b) => framer.push(b, { as4: true }, (r) => {
        if (this.other?.conn !== conn) return false;
        if (!r.ok || r.msg.type !== 'open') { this.other = undefined; conn.close(); return false; }
        this.resolveCollision(conn, r.msg);
        return false;
      }),
      () => { if (this.other?.conn === conn) this.other = undefined; },
    );
    this.sendOpen(conn);
  }

  private resolveCollision(incoming: Connection, open: OpenMessage): void {
    this.other = undefined;
    const remoteWins = ipNum(this.cfg.routerId) < ipNum(open.routerId);
    // The winner is the connection initiated by the side with the higher identifier; `incoming` was initiated by the peer.
    const keepIncoming = remoteWins && this.connLocal;
    const loser = keepIncoming ? this.conn! : incoming;
    loser.write(encodeNotification(ErrCode.CEASE, 7));
    loser.close();
    if (!keepIncoming) return;
    this.conn = undefined;
    this.adopt(incoming, false);
    const bad = this.checkOpen(open);
    if (bad) { this.enter(fail(this, ErrCode.OPEN, bad.subcode, bad.reason)); return; }
    this.acceptOpen(open);
    this.enter(to('OpenConfirm', 'connection collision: kept the peer-initiated connection'));
  }

  private setTimer(name: string, seconds: number, ev: FsmEvent): void {
    this.clearTimer(name);
    this.timers.set(name, this.clock.setTimeout(() => { this.timers.delete(name); this.dispatch(ev); }, seconds * 1000));
  }

  private clearTimer(name: string): void {
    const h = this.timers.get(name);
    if (h !== undefined) { this.clock.clearTimeout(h); this.timers.delete(name); }
  }

  /** True while the named timer ('connect-retry', 'hold', 'keepalive', 'idle-hold') runs; for tests and status. */
  timerRunning(name: string): boolean { return this.timers.has(name); }
  /** The peer's OPEN once received. */
  get peer(): OpenMessage | undefined { return this.peerOpen; }
}

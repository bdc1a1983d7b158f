// In-memory connection, dialer and clock for driving the BGP FSM and speaker without sockets.
import { decodeMessage, encodeMessage, frameLength, type BgpMessage, type OpenMessage } from '../../dataplane/bgp/codec/index.ts';
import type { Clock, Connection, Dialer } from '../../dataplane/bgp/fsm.ts';

/** A clock whose time moves only when the test calls advance(). */
export class FakeClock implements Clock {
  t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void }>();
  now() { return this.t; }
  setTimeout(fn: () => void, ms: number) { const id = ++this.seq; this.timers.set(id, { at: this.t + ms, fn }); return id; }
  clearTimeout(h: unknown) { this.timers.delete(h as number); }
  /** Moves time forward, firing due timers in order. */
  advance(ms: number) {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
  }
}

/** One end of a fake TCP connection: records what the session writes; the test feeds the peer's bytes. */
export class FakeConn implements Connection {
  written: Uint8Array[] = [];
  closed = false;
  private onData?: (b: Uint8Array) => void;
  private onClose?: () => void;
  constructor(readonly localAddress = '192.0.2.1', readonly remoteAddress = '192.0.2.2') {}
  write(b: Uint8Array) { if (!this.closed) this.written.push(b); }
  close() { this.closed = true; }
  listen(d: (b: Uint8Array) => void, c: () => void) { this.onData = d; this.onClose = c; }
  /** Bytes from the peer. */
  feed(b: Uint8Array) { this.onData?.(b); }
  send(m: BgpMessage) { this.feed(encodeMessage(m, { as4: true })); }
  peerClose() { this.closed = true; this.onClose?.(); }
  /** Messages the session wrote, decoded. */
  messages(): BgpMessage[] {
    const out: BgpMessage[] = [];
    for (const w of this.written) {
      let off = 0;
      while (off < w.length) {
        const n = frameLength(w, off) as number;
        const r = decodeMessage(w.subarray(off, off + n), { as4: true });
        if (r.ok) out.push(r.msg);
        off += n;
      }
    }
    return out;
  }
  types() { return this.messages().map((m) => (m.type === 'notification' ? `notification ${m.code}/${m.subcode}` : m.type)); }
}

export class FakeDialer implements Dialer {
  calls = 0;
  /** What the next dial yields: a connection or a failure. */
  next: () => FakeConn | Error = () => new Error('refused');
  last: FakeConn | undefined;
  dial() {
    this.calls++;
    const r = this.next();
    if (r instanceof Error) return Promise.reject(r);
    this.last = r;
    return Promise.resolve(r);
  }
}

export const flush = () => new Promise((r) => setImmediate(r));

export const peerOpen = (asn: number, routerId: string, holdTime = 3): OpenMessage => ({
  type: 'open', version: 4, myAs: asn > 0xffff ? 23456 : asn, holdTime, routerId,
  capabilities: { multiprotocol: [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }], routeRefresh: true, as4: asn, unknown: [] },
});

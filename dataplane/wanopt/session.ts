/**
 * One WAN-opt session between two edges: many flows multiplexed over one TCP connection (frames.ts).
 *
 * Sending a flow's bytes: the {@link Chunker} cuts them into content-defined chunks; a chunk the peer is
 * believed to hold (the peer index: digests recently sent to or received from it) goes as a REF, any other
 * as a LITERAL compressed by {@link ChunkCompressor}. The belief may be wrong — the peer's store may have
 * evicted the chunk — so the bytes of every REF stay pinned until the peer ACKs it; the peer answers a REF it
 * cannot resolve with a REQUEST (always before the ACK that covers that REF, TCP keeps the order) and the
 * sender answers with a RESEND literal. Receiving: every literal is decompressed and its SHA-256 checked
 * before it is stored or delivered; a flow's bytes are delivered in order, a flow waiting for a RESEND holds
 * only itself. Any protocol violation (bad magic/version/type, oversized, truncated or malformed frame,
 * fingerprint mismatch, undecodable payload) ends the session with a {@link ProtocolError}: flows are
 * destroyed with it, the peer gets a RESET, nothing wrong is ever delivered.
 *
 * Flow control: each end grants the peer credit per flow (WINDOW frames, raw bytes): `flowWindow` when the
 * flow is created, then more as its reader consumes. A sender writes a flow's bytes only against credit (a
 * write waits for it), so a flow whose reader does not read holds at most `flowWindow` bytes at the
 * receiver (plus one chunk) and stalls only its own writer, never the other flows of the session. Sending
 * also respects the connection's backpressure.
 *
 * Not done yet: reconnection / session resumption.
 */
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import { type Chunk, Chunker, type ChunkParams, DEFAULT_CHUNK_PARAMS, sha256 } from './chunker.ts';
import { ChunkCompressor, type CompressPolicy } from './compress.ts';
import { ProtocolError, isProtocolError, WanoptError } from './errors.ts';
import { DEFAULT_MAX_FRAME, encodeFrame, type Frame, FrameReader } from './frames.ts';
import type { ChunkStore } from './store.ts';

/** Options of {@link WanoptSession}. */
export interface SessionOptions {
  /** 'client' opens odd flow ids, 'server' even ones; the two ends of a connection must differ. */
  role: 'client' | 'server';
  /** This edge's chunk store (may be shared by several sessions). */
  store: ChunkStore;
  /** Chunk size bounds (default 2/8/64 KiB). */
  chunk?: ChunkParams;
  /** Compression policy (default auto, zstd level 3). */
  compress?: Partial<CompressPolicy>;
  /** Largest frame payload accepted, bytes (default 1 MiB). */
  maxFrame?: number;
  /** Send a flow's held-back tail after this many ms without new bytes (default 2). */
  flushMs?: number;
  /** How many fingerprints the peer index remembers (default 65536 ≈ 512 MiB of 8 KiB chunks). */
  peerIndexSize?: number;
  /** Receive window per flow, raw bytes the peer may send ahead of this end's reader (default 1 MiB). */
  flowWindow?: number;
}

/** Counters of a session, bytes and frames. */
export interface SessionStats {
  /** Flow bytes handed to the session to send / delivered to flows. */
  rawOut: number; rawIn: number;
  /** Bytes written to / read from the connection (frames with headers). */
  wireOut: number; wireIn: number;
  literalsOut: number; refsOut: number; refsIn: number; requestsOut: number; requestsIn: number; resendsOut: number;
}

/** One flow of a session: a Duplex whose writes go to the peer's flow and whose reads come from it. */
export class WanoptFlow extends Duplex {
  /** @internal */ chunker: Chunker;
  /** @internal */ flushTimer: NodeJS.Timeout | undefined;
  /** @internal */ queue: (Buffer | { wait: string } | null)[] = [];
  /** @internal */ remoteClosed = false;
  /** @internal */ localClosed = false;
  /** @internal Send side: raw bytes the peer still accepts, and a write waiting for credit. */
  credit = 0;
  /** @internal */ pending: { data: Buffer; cb: (e?: Error | null) => void } | undefined;
  /** @internal Receive side: raw bytes pushed to the reader, and credit granted to the peer in total. */
  pushed = 0;
  /** @internal */ granted = 0;
  /** @internal Writes so far (the idle flush compares it). */
  writes = 0;
  constructor(private readonly session: WanoptSession, readonly id: number, readonly meta: Buffer, params: ChunkParams) {
    super({ allowHalfOpen: true });
    this.chunker = new Chunker(params);
  }
  override _write(data: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void { this.session.flowWrite(this, data, cb); }
  override _final(cb: (e?: Error | null) => void): void { this.session.flowEnd(this, cb); }
  // Data is pushed as frames arrive; a read means the consumer made room, which may earn the peer credit.
  override _read(): void { this.session.flowRead(this); }
  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void { this.session.flowDestroyed(this, err); cb(err); }
}

/**
 * Example (server side): `new WanoptSession(socket, { role: 'server', store }).on('flow', (f) => f.pipe(dest))`;
 * client side: `const f = session.openFlow(Buffer.from('10.0.0.1:80')); src.pipe(f)`.
 * Events: 'flow' (flow, meta) for flows the peer opens; 'error' (ProtocolError | Error); 'close'.
 */
export class WanoptSession extends EventEmitter {
  readonly stats: SessionStats = { rawOut: 0, rawIn: 0, wireOut: 0, wireIn: 0, literalsOut: 0, refsOut: 0, refsIn: 0, requestsOut: 0, requestsIn: 0, resendsOut: 0 };
  private readonly store: ChunkStore;
  private readonly params: ChunkParams;
  private readonly comp: ChunkCompressor;
  private readonly reader: FrameReader;
  private readonly flushMs: number;
  private readonly peerIndexSize: number;
  private readonly flowWindow: number;
  private readonly flows = new Map<number, WanoptFlow>();
  private readonly peerIndex = new Set<string>();
  private nextId: number;
  private highestPeerId = 0;
  private gotHello = false;
  private closed = false;
  // Pins: bytes of REFs the peer has not yet acknowledged.
  private refSeq = 0;
  private readonly pinQueue: { seq: number; key: string }[] = [];
  private readonly pins = new Map<string, { data: Buffer; count: number }>();
  // Receive side: REFs processed (for ACK) and chunks requested from the peer.
  private refsSeen = 0;
  private refsAcked = 0;
  private readonly waiting = new Map<string, Set<WanoptFlow>>();

  constructor(private readonly socket: Duplex, opts: SessionOptions) {
    super();
    this.store = opts.store;
    this.params = opts.chunk ?? DEFAULT_CHUNK_PARAMS;
    this.comp = new ChunkCompressor(opts.compress);
    this.reader = new FrameReader(opts.maxFrame ?? DEFAULT_MAX_FRAME);
    this.flushMs = opts.flushMs ?? 2;
    this.peerIndexSize = opts.peerIndexSize ?? 65536;
    this.flowWindow = opts.flowWindow ?? 1 << 20;
    if (!Number.isInteger(this.flowWindow) || this.flowWindow < 1 || this.flowWindow > 0xffffffff) throw new WanoptError(`wanopt session: flowWindow: expected 1..2^32-1 bytes, got ${opts.flowWindow}`);
    this.nextId = opts.role === 'client' ? 1 : 2;
    // Every flow blocked on the connection waits for its 'drain': as many listeners as busy flows.
    socket.setMaxListeners(0);
    socket.on('data', (d: Buffer) => this.onData(d));
    socket.on('end', () => {
      const e = this.reader.end();
      if (e) this.fail(e, false);
      else this.shutdown(new WanoptError('wanopt session: the peer closed the connection'));
    });
    socket.on('error', (e) => this.fail(e, false));
    socket.on('close', () => this.shutdown(new WanoptError('wanopt session: connection closed')));
    this.send({ type: 'HELLO', flow: 0, maxFrame: opts.maxFrame ?? DEFAULT_MAX_FRAME });
  }

  /** Open a flow to the peer; `meta` (≤ 4 KiB) reaches the peer's 'flow' event, e.g. the original destination. */
  openFlow(meta: Buffer = Buffer.alloc(0)): WanoptFlow {
    if (this.closed) throw new WanoptError('wanopt session: closed');
    const id = this.nextId;
    this.nextId += 2;
    const f = new WanoptFlow(this, id, meta, this.params);
    this.flows.set(id, f);
    this.send({ type: 'OPEN', flow: id, meta });
    this.grantInitial(f);
    return f;
  }

  /** Number of open flows. */
  get flowCount(): number { return this.flows.size; }

  /** End the session: flows are destroyed, the connection ended. */
  close(): void {
    this.shutdown(new WanoptError('wanopt session: closed locally'));
    this.socket.end();
  }

  // ---- sending -------------------------------------------------------------------------------------

  /** @internal */
  flowWrite(f: WanoptFlow, data: Buffer, cb: (e?: Error | null) => void): void {
    if (this.closed) { cb(new WanoptError('wanopt session: closed')); return; }
    f.pending = { data, cb };
    f.writes++;
    this.pump(f);
  }

  /** Send as much of the flow's pending write as its credit allows; complete the write when all went. */
  private pump(f: WanoptFlow): void {
    const p = f.pending;
    if (!p || this.closed) return;
    while (p.data.length && f.credit > 0) {
      const n = Math.min(f.credit, p.data.length);
      const part = p.data.subarray(0, n);
      p.data = p.data.subarray(n);
      f.credit -= n;
      this.stats.rawOut += n;
      this.sendChunks(f, f.chunker.push(part));
    }
    this.armFlush(f);
    if (p.data.length) return; // the rest waits for a WINDOW
    f.pending = undefined;
    if (this.socket.writableNeedDrain) this.socket.once('drain', () => p.cb());
    else p.cb();
  }

  /**
   * Send the held-back tail once the flow is idle. A writer blocked on credit or on the connection is not
   * idle: cutting there would place chunk boundaries by timing, not content, and spoil dedup of a repeat.
   */
  private armFlush(f: WanoptFlow): void {
    if (!f.chunker.buffered || f.flushTimer) return;
    const seq = f.writes;
    f.flushTimer = setTimeout(() => {
      // Timers run before the event loop polls sockets: look again after the poll phase (setImmediate), so
      // bytes that were already waiting to be read count as activity rather than idleness.
      setImmediate(() => {
        f.flushTimer = undefined;
        if (this.closed || f.localClosed || !this.flows.has(f.id)) return;
        if (f.writes !== seq || f.pending || this.socket.writableNeedDrain) this.armFlush(f);
        else this.sendChunks(f, f.chunker.flush());
      });
    }, this.flushMs);
  }

  private grantInitial(f: WanoptFlow): void {
    f.granted = this.flowWindow;
    this.send({ type: 'WINDOW', flow: f.id, credit: this.flowWindow });
  }

  /** @internal Give the peer credit for what the flow's reader consumed, in steps of a quarter window. */
  flowRead(f: WanoptFlow): void {
    if (this.closed || f.remoteClosed) return;
    const want = f.pushed - f.readableLength + this.flowWindow;
    const more = want - f.granted;
    if (more < Math.max(1, this.flowWindow >>> 2) || more <= 0) return;
    f.granted = want;
    this.send({ type: 'WINDOW', flow: f.id, credit: more });
  }

  /** @internal */
  flowEnd(f: WanoptFlow, cb: (e?: Error | null) => void): void {
    if (this.closed) { cb(new WanoptError('wanopt session: closed')); return; }
    if (f.flushTimer) { clearTimeout(f.flushTimer); f.flushTimer = undefined; }
    this.sendChunks(f, f.chunker.flush());
    this.send({ type: 'CLOSE', flow: f.id });
    f.localClosed = true;
    this.maybeForget(f);
    cb();
  }

  /** @internal */
  flowDestroyed(f: WanoptFlow, err: Error | null): void {
    if (f.flushTimer) clearTimeout(f.flushTimer);
    if (!this.flows.has(f.id)) return;
    this.flows.delete(f.id);
    for (const set of this.waiting.values()) set.delete(f);
    if (!this.closed && !(f.localClosed && f.remoteClosed)) this.send({ type: 'RESET', flow: f.id, reason: err?.message ?? 'flow destroyed' });
  }

  private sendChunks(f: WanoptFlow, chunks: Chunk[]): void {
    for (const c of chunks) {
      const k = c.digest.toString('hex');
      if (this.peerIndex.has(k)) {
        this.refSeq = (this.refSeq + 1) >>> 0;
        this.pin(k, c.data);
        this.stats.refsOut++;
        this.send({ type: 'REF', flow: f.id, digest: c.digest, rawLen: c.data.length });
      } else {
        const z = this.comp.compress(c.data);
        this.stats.literalsOut++;
        this.send({ type: 'LITERAL', flow: f.id, digest: c.digest, codec: z.codec, rawLen: c.data.length, data: z.payload });
        this.remember(k);
      }
      this.store.put(c.digest, c.data, true);
    }
  }

  private pin(k: string, data: Buffer): void {
    const p = this.pins.get(k);
    if (p) p.count++;
    else this.pins.set(k, { data: Buffer.from(data), count: 1 });
    this.pinQueue.push({ seq: this.refSeq, key: k });
  }

  private onAck(refs: number): void {
    // Sequence numbers wrap at 2^32: compare by signed distance.
    while (this.pinQueue.length && ((refs - this.pinQueue[0]!.seq) | 0) >= 0) {
      const { key } = this.pinQueue.shift()!;
      const p = this.pins.get(key)!;
      if (--p.count === 0) this.pins.delete(key);
    }
  }

  private remember(k: string): void {
    this.peerIndex.delete(k);
    this.peerIndex.add(k);
    if (this.peerIndex.size > this.peerIndexSize) this.peerIndex.delete(this.peerIndex.values().next().value as string);
  }

  private send(f: Frame): void {
    if (this.closed || this.socket.destroyed) return;
    const b = encodeFrame(f);
    this.stats.wireOut += b.length;
    this.socket.write(b);
  }

  // ---- receiving -----------------------------------------------------------------------------------

  private onData(d: Buffer): void {
    if (this.closed) return;
    this.stats.wireIn += d.length;
    const { frames, error } = this.reader.push(d);
    try {
      for (const f of frames) { if (this.closed) return; this.onFrame(f); }
      if (error) throw error;
    } catch (e) {
      this.fail(e as Error, true);
      return;
    }
    if (this.refsSeen !== this.refsAcked) {
      this.refsAcked = this.refsSeen;
      this.send({ type: 'ACK', flow: 0, refs: this.refsSeen });
    }
  }

  private onFrame(f: Frame): void {
    if (!this.gotHello) {
      if (f.type !== 'HELLO') throw new ProtocolError('malformed', `expected HELLO first, got ${f.type}`);
      this.gotHello = true;
      return;
    }
    switch (f.type) {
      case 'HELLO': throw new ProtocolError('malformed', 'second HELLO');
      case 'OPEN': {
        const peerParity = this.nextId % 2 === 1 ? 0 : 1;
        if (f.flow % 2 !== peerParity || f.flow <= this.highestPeerId) throw new ProtocolError('malformed', `OPEN of flow ${f.flow}: wrong parity or reused id`);
        this.highestPeerId = f.flow;
        const flow = new WanoptFlow(this, f.flow, f.meta, this.params);
        this.flows.set(f.flow, flow);
        this.grantInitial(flow);
        this.emit('flow', flow, f.meta);
        return;
      }
      case 'LITERAL': {
        const data = this.verified(f);
        this.remember(f.digest.toString('hex'));
        const flow = this.flowFor(f.flow);
        if (flow) this.enqueue(flow, data);
        return;
      }
      case 'REF': {
        this.refsSeen = (this.refsSeen + 1) >>> 0;
        this.stats.refsIn++;
        const flow = this.flowFor(f.flow);
        if (!flow) return;
        const k = f.digest.toString('hex');
        const data = this.store.get(f.digest);
        if (data) {
          if (data.length !== f.rawLen) throw new ProtocolError('malformed', `REF of ${f.rawLen} bytes names a ${data.length}-byte chunk`);
          this.remember(k);
          this.enqueue(flow, data);
          return;
        }
        let set = this.waiting.get(k);
        if (!set) {
          this.waiting.set(k, (set = new Set()));
          this.stats.requestsOut++;
          this.send({ type: 'REQUEST', flow: 0, digest: f.digest });
        }
        set.add(flow);
        flow.queue.push({ wait: k });
        return;
      }
      case 'REQUEST': {
        this.stats.requestsIn++;
        const k = f.digest.toString('hex');
        const data = this.pins.get(k)?.data ?? this.store.get(f.digest);
        if (!data) throw new ProtocolError('unknown-chunk', `peer requested chunk ${k.slice(0, 16)}… which is neither pinned nor stored`);
        const z = this.comp.compress(data);
        this.stats.resendsOut++;
        this.send({ type: 'RESEND', flow: 0, digest: f.digest, codec: z.codec, rawLen: data.length, data: z.payload });
        return;
      }
      case 'RESEND': {
        const k = f.digest.toString('hex');
        const set = this.waiting.get(k);
        if (!set) throw new ProtocolError('malformed', `RESEND of chunk ${k.slice(0, 16)}… that was not requested`);
        const data = this.verified(f);
        this.waiting.delete(k);
        this.remember(k);
        for (const flow of set) {
          flow.queue = flow.queue.map((it) => (it && !Buffer.isBuffer(it) && it.wait === k ? data : it));
          this.drain(flow);
        }
        return;
      }
      case 'ACK': this.onAck(f.refs); return;
      case 'WINDOW': {
        const flow = this.flowFor(f.flow);
        if (!flow) return;
        if (flow.credit + f.credit > 0xffffffff) throw new ProtocolError('malformed', `WINDOW of flow ${f.flow} grants more than 2^32-1 bytes of credit`);
        flow.credit += f.credit;
        this.pump(flow);
        return;
      }
      case 'CLOSE': {
        const flow = this.flowFor(f.flow);
        if (!flow) return;
        if (flow.remoteClosed) throw new ProtocolError('malformed', `second CLOSE of flow ${f.flow}`);
        flow.remoteClosed = true;
        flow.queue.push(null);
        this.drain(flow);
        return;
      }
      case 'RESET': {
        if (f.flow === 0) throw new ProtocolError('peer-error', `peer reset the session: ${f.reason}`);
        const flow = this.flows.get(f.flow);
        if (flow) { this.flows.delete(f.flow); flow.destroy(new WanoptError(`wanopt flow ${f.flow}: reset by peer: ${f.reason}`)); }
        return;
      }
    }
  }

  /** Decompress a LITERAL/RESEND and check its fingerprint; stores it. */
  private verified(f: Extract<Frame, { type: 'LITERAL' | 'RESEND' }>): Buffer {
    if (f.rawLen > this.reader.maxFrame) throw new ProtocolError('oversized', `chunk of ${f.rawLen} bytes exceeds the limit of ${this.reader.maxFrame}`);
    let data: Buffer;
    try { data = this.comp.decompress(f.codec, f.data, f.rawLen); }
    catch (e) { throw new ProtocolError('decompress', (e as Error).message, { cause: e }); }
    if (!sha256(data).equals(f.digest)) throw new ProtocolError('digest-mismatch', `${f.type} of ${f.rawLen} bytes does not match its fingerprint`);
    if (f.codec !== 0 || data.byteOffset !== 0) data = Buffer.from(data);
    this.store.put(f.digest, data, true);
    return data;
  }

  /** The flow a data frame names; undefined for a flow already finished here; an error for one never opened. */
  private flowFor(id: number): WanoptFlow | undefined {
    const flow = this.flows.get(id);
    if (flow) return flow;
    const ours = id % 2 === this.nextId % 2;
    if (ours ? id < this.nextId : id <= this.highestPeerId) return undefined;
    throw new ProtocolError('unknown-flow', `frame for flow ${id}, which was never opened`);
  }

  private enqueue(flow: WanoptFlow, data: Buffer): void {
    flow.queue.push(data);
    this.drain(flow);
  }

  private drain(flow: WanoptFlow): void {
    while (flow.queue.length) {
      const it = flow.queue[0];
      if (it !== null && it !== undefined && !Buffer.isBuffer(it)) return;
      flow.queue.shift();
      if (it === null) { flow.push(null); this.maybeForget(flow); return; }
      this.stats.rawIn += it!.length;
      flow.pushed += it!.length;
      flow.push(it);
    }
    this.flowRead(flow);
  }

  private maybeForget(flow: WanoptFlow): void {
    if (flow.localClosed && flow.remoteClosed && flow.queue.length === 0) this.flows.delete(flow.id);
  }

  // ---- failure -------------------------------------------------------------------------------------

  private fail(e: Error, tellPeer: boolean): void {
    if (this.closed) return;
    if (tellPeer && isProtocolError(e)) {
      // Best effort: tell the peer why before closing.
      const b = encodeFrame({ type: 'RESET', flow: 0, reason: e.message });
      if (!this.socket.destroyed) this.socket.end(b);
    }
    this.shutdown(e);
    if (!tellPeer) this.socket.destroy();
    this.emit('error', e);
  }

  private shutdown(reason: Error): void {
    if (this.closed) return;
    this.closed = true;
    for (const f of this.flows.values()) {
      if (f.flushTimer) clearTimeout(f.flushTimer);
      // A flow that has delivered everything in both directions is not an error.
      if (!(f.localClosed && f.remoteClosed && f.queue.length === 0)) f.destroy(reason);
    }
    this.flows.clear();
    this.pins.clear();
    this.pinQueue.length = 0;
    this.emit('close');
  }
}

/**
 * Forward error correction for UDP classes: packets in blocks of k, m Reed–Solomon parity packets per block
 * (rs.ts), optional block interleaving, and in-order delivery with a bounded wait for gaps (packet-order
 * correction).
 *
 * Wire format of an FEC packet (13-byte header, big-endian):
 *
 *   version<<4 | kind u8 (kind 0 data, 1 parity) | k u8 | m u8 | index u8 | depth u8 | block u32 | seq u32 | payload
 *
 * A data packet carries the original packet as is (`index` 0..k-1, `seq` its sequence number); a parity packet
 * carries parity shard `index - k` and, in `seq`, the sequence number of the block's first packet. `depth` is
 * the interleaving depth d (1 = none): d blocks are filled round-robin, so data packet i of a block has
 * sequence number `first + i·d`, and a burst of up to d·m consecutive lost packets costs each block at most m
 * (see {@link FecEncoder}). For coding,
 * data shard i is `len u16 | packet | zero padding` up to the block's longest (the parity length), so a
 * recovered packet knows its own length. A block ended early by {@link FecEncoder.flush} has parity packets
 * whose `k` is the number of packets actually in it.
 */
import { FecError } from './errors.ts';
import { rsDecode, rsEncode } from './rs.ts';

export const FEC_HEADER_LEN = 13;
const FEC_VERSION = 2;
/** Largest interleaving depth (the u8 header field). */
export const FEC_MAX_DEPTH = 64;
/** Largest packet an FEC block can carry (the u16 length prefix). */
export const FEC_MAX_PACKET = 65535;

/** A decoded FEC packet header and its payload. */
/** `depth`: interleaving depth of the packet's block group (1 = none); sequence numbers in a block step by it. */
export interface FecPacket { kind: 'data' | 'parity'; k: number; m: number; index: number; depth: number; block: number; seq: number; payload: Buffer }

/** Encode an FEC packet. */
export function encodeFecPacket(p: FecPacket): Buffer {
  const h = Buffer.allocUnsafe(FEC_HEADER_LEN);
  h[0] = (FEC_VERSION << 4) | (p.kind === 'data' ? 0 : 1);
  h[1] = p.k; h[2] = p.m; h[3] = p.index; h[4] = p.depth;
  h.writeUInt32BE(p.block >>> 0, 5);
  h.writeUInt32BE(p.seq >>> 0, 9);
  return Buffer.concat([h, p.payload]);
}

/** Decode an FEC packet; a string saying what is wrong for a malformed one. */
export function decodeFecPacket(b: Buffer): FecPacket | string {
  if (b.length < FEC_HEADER_LEN) return `FEC packet of ${b.length} bytes is shorter than its ${FEC_HEADER_LEN}-byte header`;
  if (b[0]! >> 4 !== FEC_VERSION) return `FEC version ${b[0]! >> 4}, expected ${FEC_VERSION}`;
  const kindBits = b[0]! & 15;
  if (kindBits > 1) return `FEC packet kind ${kindBits}`;
  const k = b[1]!, m = b[2]!, index = b[3]!, depth = b[4]!;
  if (k < 1 || k + m > 256 || index >= k + m) return `FEC k=${k} m=${m} index=${index} out of range`;
  if (depth < 1 || depth > FEC_MAX_DEPTH) return `FEC interleaving depth ${depth} out of range 1..${FEC_MAX_DEPTH}`;
  if ((kindBits === 0) !== (index < k)) return `FEC ${kindBits === 0 ? 'data' : 'parity'} packet with index ${index} (k=${k})`;
  return { kind: kindBits === 0 ? 'data' : 'parity', k, m, index, depth, block: b.readUInt32BE(5), seq: b.readUInt32BE(9), payload: b.subarray(FEC_HEADER_LEN) };
}

function shardOf(packet: Buffer, len: number): Buffer {
  const s = Buffer.alloc(len);
  s.writeUInt16BE(packet.length, 0);
  packet.copy(s, 2);
  return s;
}

/**
 * Sender side. Each data packet is sent at once; with interleaving depth `interleave` = d (default 1) the
 * input packets go round-robin into d blocks (packet j of a group of d·k into block j mod d), and when the
 * group is full the d·m parity packets follow, also round-robin (parity 0 of every block, then parity 1, …).
 * The wire order then cycles through the d blocks, so any d·m consecutive losses hit each block at most m
 * times and are all repaired; the price is latency: a loss waits for its block's parity, up to d·k packet
 * intervals after the lost packet's group started (d = 1: k intervals), so the receiver's hold must cover it.
 * Example: `const enc = new FecEncoder({ k: 8, m: 2, interleave: 4 }); for (const p of enc.push(pkt)) send(p)`.
 */
export class FecEncoder {
  readonly k: number;
  readonly m: number;
  readonly depth: number;
  private block = 0;
  private seq = 0;
  private pending: Buffer[] = [];

  /** k data + m parity packets per block (k ≥ 1, m ≥ 0, k + m ≤ 256); `interleave` 1..64 (default 1); `firstSeq` default 0. */
  constructor(opts: { k: number; m: number; interleave?: number; firstSeq?: number }) {
    if (!Number.isInteger(opts.k) || !Number.isInteger(opts.m) || opts.k < 1 || opts.m < 0 || opts.k + opts.m > 256) throw new FecError(`fec: need k >= 1, m >= 0, k + m <= 256; got k=${opts.k} m=${opts.m}`);
    const d = opts.interleave ?? 1;
    if (!Number.isInteger(d) || d < 1 || d > FEC_MAX_DEPTH) throw new FecError(`fec: need interleave in 1..${FEC_MAX_DEPTH}; got ${d}`);
    this.k = opts.k; this.m = opts.m; this.depth = d;
    this.seq = (opts.firstSeq ?? 0) >>> 0;
  }

  /** Data packets of the current group not yet covered by parity (0 right after a group closed). */
  get pendingCount(): number { return this.pending.length; }

  /** Packets to send for one input packet: its data packet, plus the group's parity when the group fills. */
  push(packet: Buffer): Buffer[] {
    if (packet.length > FEC_MAX_PACKET) throw new FecError(`fec: packet of ${packet.length} bytes exceeds ${FEC_MAX_PACKET}`);
    const j = this.pending.length, d = this.depth;
    const out = [encodeFecPacket({ kind: 'data', k: this.k, m: this.m, index: Math.floor(j / d), depth: d, block: (this.block + (j % d)) >>> 0, seq: this.seq, payload: packet })];
    this.seq = (this.seq + 1) >>> 0;
    this.pending.push(packet);
    if (this.pending.length === this.k * d) out.push(...this.flush());
    return out;
  }

  /**
   * End the current group early (e.g. a pause in the stream): its parity packets, if any packet is pending.
   * A group ended with n < d packets spans only n blocks, so only bursts up to n·m are repaired in it.
   */
  flush(): Buffer[] {
    const n = this.pending.length, d = this.depth;
    if (n === 0) return [];
    const first = (this.seq - n) >>> 0;
    const used = Math.min(d, n);
    const parity: Buffer[][] = [];
    const sizes: number[] = [];
    for (let b = 0; b < used; b++) {
      const mine = this.pending.filter((_, j) => j % d === b);
      const len = 2 + Math.max(...mine.map((p) => p.length));
      parity.push(rsEncode(mine.map((p) => shardOf(p, len)), this.m));
      sizes.push(mine.length);
    }
    const out: Buffer[] = [];
    // Round-robin over the blocks, continuing the data's cycle (a partial group's data may stop mid-cycle):
    // a burst across data and parity spreads as one within the data does.
    for (let i = 0; i < this.m; i++) {
      for (let r = 0; r < used; r++) {
        const b = (n + r) % used;
        out.push(encodeFecPacket({ kind: 'parity', k: sizes[b]!, m: this.m, index: sizes[b]! + i, depth: d, block: (this.block + b) >>> 0, seq: (first + b) >>> 0, payload: parity[b]![i]! }));
      }
    }
    this.pending = [];
    // Every group takes d block numbers, used or not, so block ids never collide.
    this.block = (this.block + d) >>> 0;
    return out;
  }
}

/** Counters of a {@link Reorderer}. */
export interface ReorderStats { delivered: number; lost: number; late: number }

/**
 * Packet-order correction: items pushed with sequence numbers come out in order. A gap is waited for until
 * the oldest held item has waited `holdMs`, or more than `maxHeld` items are held; then it is skipped and
 * counted lost. Items behind the delivery point (late or duplicate) are dropped and counted late. The clock
 * is injected (`now`, ms). Sequence numbers are u32 and may wrap.
 */
export class Reorderer<T> {
  readonly stats: ReorderStats = { delivered: 0, lost: 0, late: 0 };
  private next: number | undefined;
  private readonly held = new Map<number, { item: T; at: number }>();
  constructor(readonly opts: { holdMs: number; maxHeld: number; firstSeq?: number } = { holdMs: 50, maxHeld: 256 }) {
    this.next = opts.firstSeq;
  }

  /** Set the first sequence number expected, unless delivery has started already. */
  start(seq: number): void { this.next ??= seq >>> 0; }

  /** Sequence number expected next (undefined before the first push). */
  get expected(): number | undefined { return this.next; }

  push(seq: number, item: T, now: number): T[] {
    seq >>>= 0;
    this.next ??= seq;
    if (((seq - this.next) | 0) < 0 || this.held.has(seq)) { this.stats.late++; return []; }
    this.held.set(seq, { item, at: now });
    return this.release(now);
  }

  /** Release what waited long enough. */
  tick(now: number): T[] { return this.release(now); }

  /**
   * Give up on every gap before `seq` at once (the caller knows those packets can no longer come): items held
   * below `seq` are released in order, the missing ones counted lost; then as {@link tick}. No effect when
   * delivery is already at or past `seq`. Example: expecting 97, holding 98 and 100: `r.skipBefore(100, now)`
   * counts 97 and 99 lost and returns the items of 98 and 100.
   */
  skipBefore(seq: number, now: number): T[] {
    seq >>>= 0;
    const next = this.next;
    if (next === undefined) return [];
    const dist = (seq - next) | 0;
    if (dist <= 0) return this.release(now);
    // By distance from the delivery point, not by counting up: a sender's jump may be large.
    const below = [...this.held.keys()].filter((s) => ((s - next) >>> 0) < dist).sort((a, b) => ((a - next) >>> 0) - ((b - next) >>> 0));
    const out: T[] = [];
    for (const s of below) { out.push(this.held.get(s)!.item); this.held.delete(s); }
    this.stats.delivered += below.length;
    this.stats.lost += dist - below.length;
    this.next = seq;
    out.push(...this.release(now));
    return out;
  }

  /** Release everything held, skipping all gaps. */
  flush(): T[] { return this.release(Infinity, true); }

  private release(now: number, all = false): T[] {
    const out: T[] = [];
    for (;;) {
      while (this.next !== undefined && this.held.has(this.next)) {
        out.push(this.held.get(this.next)!.item);
        this.held.delete(this.next);
        this.next = (this.next + 1) >>> 0;
        this.stats.delivered++;
      }
      if (this.held.size === 0) return out;
      let oldest = Infinity, minSeq = 0, minDist = Infinity;
      for (const [s, h] of this.held) {
        oldest = Math.min(oldest, h.at);
        const d = (s - this.next!) >>> 0;
        if (d < minDist) { minDist = d; minSeq = s; }
      }
      if (!all && this.held.size <= this.opts.maxHeld && now - oldest < this.opts.holdMs) return out;
      this.stats.lost += minDist;
      this.next = minSeq;
    }
  }
}

/** Counters of a {@link FecDecoder}. */
export interface FecStats {
  dataReceived: number; parityReceived: number; malformed: number;
  /** Data packets rebuilt from parity. */
  recovered: number;
  /** Blocks that needed parity and got their data back. */
  blocksRecovered: number;
  /** Blocks closed with data still missing (fewer than k of their k + m packets arrived). */
  blocksUnrecoverable: number;
}

/** `at`: arrival time of the block's latest packet, ms. */
interface BlockState { k: number; m: number; depth: number; base: number; data: (Buffer | null)[]; parity: (Buffer | null)[]; at: number; done: boolean; kFromParity: boolean }

/**
 * Receiver side: recovers lost data packets from parity and delivers packets in order through a
 * {@link Reorderer}. A gap is skipped after `holdMs`, or at once when a data packet arrives whose group
 * starts more than one full group (depth × k packets) after the gap: its block's parity has been sent by
 * then, so only reordering by more than a group could still fill it. Example: `dec.push(wirePacket, Date.now())` returns the packets now deliverable;
 * call `dec.tick(now)` periodically and `dec.end()` at the end.
 */
export class FecDecoder {
  readonly stats: FecStats = { dataReceived: 0, parityReceived: 0, malformed: 0, recovered: 0, blocksRecovered: 0, blocksUnrecoverable: 0 };
  readonly order: Reorderer<Buffer>;
  private readonly blocks = new Map<number, BlockState>();
  /**
   * `holdMs` (default 50): how long a gap is waited for, and how long a block stays open after its last
   * packet — to let parity rebuild a loss before its gap is skipped, set it to at least the time one block
   * takes to send (k × the packet interval); `maxBlocks` (default 64): open blocks kept.
   */
  constructor(readonly opts: { holdMs?: number; maxBlocks?: number; maxHeld?: number } = {}) {
    this.order = new Reorderer<Buffer>({ holdMs: opts.holdMs ?? 50, maxHeld: opts.maxHeld ?? 1024 });
  }

  /** Feed one received FEC packet; returns packets now deliverable, in order. Malformed packets are counted and dropped. */
  push(wire: Buffer, now: number): Buffer[] {
    const p = decodeFecPacket(wire);
    if (typeof p === 'string') { this.stats.malformed++; return this.tick(now); }
    const out: Buffer[] = [];
    let b = this.blocks.get(p.block);
    if (!b) {
      const base = p.kind === 'data' ? (p.seq - p.index * p.depth) >>> 0 : p.seq;
      b = { k: p.k, m: p.m, depth: p.depth, base, data: new Array(p.k).fill(null), parity: new Array(p.m).fill(null), at: now, done: false, kFromParity: false };
      this.blocks.set(p.block, b);
      // Start delivery at the first group's first packet, so its own losses count and can be recovered
      // (groups start at block numbers that are multiples of the depth).
      this.order.start((base - (p.block % p.depth)) >>> 0);
    }
    b.at = now;
    if (p.kind === 'parity' && !b.kFromParity) {
      // Parity carries the block's real k (smaller when the block was flushed early).
      b.kFromParity = true;
      b.k = p.k; b.base = p.seq;
      b.data.length = p.k;
      b.parity = new Array(p.m).fill(null);
    }
    if (p.kind === 'data') {
      this.stats.dataReceived++;
      if (p.index < b.data.length && !b.data[p.index]) {
        b.data[p.index] = p.payload;
        out.push(...this.order.push(p.seq, p.payload, now));
      }
      // A group's parity goes out before the next group's data, so once data of a later group arrives, a gap
      // more than one full group (d·k packets) behind this group's start can only be an unrecoverable loss —
      // unless the path reorders by more than a group. Skipping it now instead of after holdMs keeps
      // the stream from stalling for the hold (then arriving as one burst that overflows the receiving
      // host's socket buffer at high packet rates).
      const groupStart = (p.seq - p.index * p.depth - (p.block % p.depth)) >>> 0;
      out.push(...this.order.skipBefore((groupStart - p.depth * p.k) >>> 0, now));
    } else {
      this.stats.parityReceived++;
      const i = p.index - b.k;
      if (i >= 0 && i < b.parity.length && !b.parity[i] && !b.done) b.parity[i] = p.payload;
    }
    if (!b.done) out.push(...this.tryRecover(b, now));
    out.push(...this.tick(now));
    return out;
  }

  /** Close blocks idle for the hold time or beyond `maxBlocks`; release gaps waited for long enough. */
  tick(now: number): Buffer[] {
    const hold = this.opts.holdMs ?? 50, maxBlocks = this.opts.maxBlocks ?? 64;
    for (const [id, b] of this.blocks) {
      if (this.blocks.size <= maxBlocks && now - b.at < hold) break;
      this.close(b);
      this.blocks.delete(id);
    }
    return this.order.tick(now);
  }

  /** End of stream: close every block and release everything. */
  end(): Buffer[] {
    for (const b of this.blocks.values()) this.close(b);
    this.blocks.clear();
    return this.order.flush();
  }

  private close(b: BlockState): void {
    if (!b.done && b.data.some((d) => !d)) this.stats.blocksUnrecoverable++;
    b.done = true;
  }

  private tryRecover(b: BlockState, now: number): Buffer[] {
    const haveData = b.data.filter(Boolean).length;
    if (haveData === b.k) { b.done = true; return []; }
    const haveParity = b.parity.filter(Boolean).length;
    if (haveParity === 0 || haveData + haveParity < b.k) return [];
    const len = b.parity.find(Boolean)!.length;
    // A data packet longer than the parity cannot belong to this block's coding: treat it as lost.
    const shards = [...b.data.map((d) => (d && d.length + 2 <= len ? shardOf(d, len) : null)), ...b.parity.map((p) => (p && p.length === len ? p : null))];
    const rec = rsDecode(shards, b.k, b.m);
    if (!rec) return [];
    const out: Buffer[] = [];
    b.done = true;
    this.stats.blocksRecovered++;
    for (let i = 0; i < b.k; i++) {
      if (b.data[i]) continue;
      const n = rec[i]!.readUInt16BE(0);
      if (n + 2 > len) continue;
      const pkt = Buffer.from(rec[i]!.subarray(2, 2 + n));
      b.data[i] = pkt;
      this.stats.recovered++;
      out.push(...this.order.push((b.base + i * b.depth) >>> 0, pkt, now));
    }
    return out;
  }
}

// timeout: 120
/** Reed–Solomon FEC and packet-order correction: every loss pattern, unrecoverable blocks, reordering. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { decodeFecPacket, FecDecoder, FecEncoder, FecError, gfInv, gfMul, Reorderer, rsDecode, rsEncode } from '../../dataplane/wanopt/index.ts';

/** All subsets of {0..n-1} with at most `max` members, as arrays. */
function subsets(n: number, max: number): number[][] {
  const out: number[][] = [];
  for (let mask = 0; mask < 1 << n; mask++) {
    const s = [...Array(n).keys()].filter((i) => mask & (1 << i));
    if (s.length <= max) out.push(s);
  }
  return out;
}

test('GF(256) multiplication has inverses for every non-zero element', () => {
  for (let a = 1; a < 256; a++) assert.is(gfMul(a, gfInv(a)), 1, `a=${a}`);
  assert.is(gfMul(0, 77), 0);
  assert.throws(() => gfInv(0), (e: unknown) => e instanceof FecError);
});

test('Reed-Solomon recovers every pattern of up to m lost shards for small k and m', () => {
  let patterns = 0;
  for (const [k, m] of [[1, 1], [2, 1], [3, 2], [4, 2], [5, 3], [6, 4], [8, 2], [10, 3]] as const) {
    const data = Array.from({ length: k }, () => randomBytes(17));
    const shards = [...data, ...rsEncode(data, m)];
    for (const lost of subsets(k + m, m)) {
      const got = rsDecode(shards.map((s, i) => (lost.includes(i) ? null : s)), k, m);
      assert.ok(got, `k=${k} m=${m} lost=${lost}`);
      got!.forEach((d, i) => assert.ok(d.equals(data[i]!), `k=${k} m=${m} lost=${lost} shard ${i}`));
      patterns++;
    }
    const tooMany = [...Array(m + 1).keys()];
    assert.is(rsDecode(shards.map((s, i) => (tooMany.includes(i) ? null : s)), k, m), undefined, `k=${k} m=${m}: m+1 losses`);
  }
  console.log(`  ${patterns} loss patterns recovered`);
});

test('Reed-Solomon rejects impossible parameters and uneven shards', () => {
  assert.throws(() => rsEncode([Buffer.alloc(4)], 256), (e: unknown) => e instanceof FecError);
  assert.throws(() => rsEncode([Buffer.alloc(4), Buffer.alloc(5)], 1), /same length/);
  assert.throws(() => rsDecode([Buffer.alloc(4), null], 2, 1), /shard slots/);
});

/** Packets of varying length, as voice and video frames are. */
const packets = (n: number, seed = 1) => Array.from({ length: n }, (_, i) => { const b = randomBytes(20 + ((i * 37 + seed) % 180)); b.writeUInt32BE(i, 0); return b; });

test('every pattern of up to m lost packets per block is recovered and delivered in order', () => {
  for (const [k, m] of [[4, 2], [5, 1], [3, 3]] as const) {
    const pkts = packets(k * 3);
    for (const lost of subsets(k + m, m)) {
      const enc = new FecEncoder({ k, m }), dec = new FecDecoder();
      const out: Buffer[] = [];
      let t = 0;
      for (const p of pkts) {
        const wire = enc.push(p);
        // The loss pattern hits the middle block only; the first and last arrive whole.
        const block = decodeFecPacket(wire[0]!) as { block: number };
        for (const w of wire) {
          const idx = (decodeFecPacket(w) as { index: number }).index;
          if (block.block === 1 && lost.includes(idx)) continue;
          out.push(...dec.push(w, t++));
        }
      }
      out.push(...dec.end());
      assert.is(out.length, pkts.length, `k=${k} m=${m} lost=${lost}`);
      out.forEach((p, i) => assert.ok(p.equals(pkts[i]!), `k=${k} m=${m} lost=${lost}: packet ${i}`));
      assert.is(dec.stats.blocksUnrecoverable, 0);
      assert.is(dec.stats.recovered, lost.filter((i) => i < k).length);
      assert.is(dec.order.stats.lost, 0);
    }
  }
});

test('a block with more than m losses is reported unrecoverable and its gaps counted lost', () => {
  const enc = new FecEncoder({ k: 4, m: 1 }), dec = new FecDecoder({ holdMs: 10 });
  const pkts = packets(12);
  const out: Buffer[] = [];
  let t = 0;
  for (const [i, p] of pkts.entries()) for (const w of enc.push(p)) if (i !== 5 && i !== 6) out.push(...dec.push(w, t++));
  out.push(...dec.end());
  assert.is(dec.stats.blocksUnrecoverable, 1);
  assert.is(dec.order.stats.lost, 2);
  assert.equal(out.map((p) => p.readUInt32BE(0)), [0, 1, 2, 3, 4, 7, 8, 9, 10, 11]);
});

test('an unrecoverable gap is skipped as soon as data two groups on arrives, not after the hold time', () => {
  // At thousands of packets/s a hold of 80 ms stalls hundreds of packets, which then reach the host as one
  // burst and overflow its socket buffer (bench/wanopt.ts); the gap is known hopeless long before.
  const enc = new FecEncoder({ k: 4, m: 1 }), dec = new FecDecoder({ holdMs: 1e9 });
  const out: Buffer[] = [];
  let t = 0;
  for (const [i, p] of packets(16).entries()) for (const w of enc.push(p)) if (i !== 5 && i !== 6) out.push(...dec.push(w, t++));
  assert.equal(out.map((p) => p.readUInt32BE(0)), [0, 1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15], 'no end() or tick needed');
  assert.is(dec.order.stats.lost, 2);
  // With interleaving the slack is a whole group (d·k packets) too.
  const enc2 = new FecEncoder({ k: 2, m: 1, interleave: 2 }), dec2 = new FecDecoder({ holdMs: 1e9 });
  const out2: Buffer[] = [];
  const lostSeqs = new Set([4, 6]); // both data packets of one block of the second group
  for (const p of packets(16)) for (const w of enc2.push(p)) { const h = decodeFecPacket(w) as { kind: string; seq: number }; if (h.kind === 'data' && lostSeqs.has(h.seq)) continue; out2.push(...dec2.push(w, t++)); }
  assert.equal(out2.map((p) => p.readUInt32BE(0)), [0, 1, 2, 3, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
});

test('the reorderer gives up on every gap below a sequence number at once, across the u32 wrap', () => {
  const r = new Reorderer<number>({ holdMs: 1e9, maxHeld: 100, firstSeq: 97 });
  assert.equal(r.push(98, 98, 0), []);
  assert.equal(r.push(100, 100, 0), []);
  assert.equal(r.skipBefore(100, 0), [98, 100], '97 and 99 given up, 98 and 100 delivered');
  assert.is(r.stats.lost, 2);
  assert.equal(r.skipBefore(50, 0), [], 'behind the delivery point: nothing to do');
  assert.is(r.expected, 101);
  const w = new Reorderer<number>({ holdMs: 1e9, maxHeld: 100, firstSeq: 0xfffffffe });
  assert.equal(w.push(0xffffffff, 1, 0), []);
  assert.equal(w.push(3, 2, 0), []);
  assert.equal(w.skipBefore(2, 0), [1], 'a gap on each side of the wrap');
  assert.is(w.stats.lost, 3);
  assert.equal(w.push(2, 9, 0), [9, 2]);
  const far = new Reorderer<number>({ holdMs: 1e9, maxHeld: 100, firstSeq: 0 });
  assert.equal(far.skipBefore(0x7fff0000, 0), [], 'a large jump is counted, not walked');
  assert.is(far.stats.lost, 0x7fff0000);
});

test('packets arriving out of order are put back in order, with losses recovered across the shuffle', () => {
  const k = 8, m = 2;
  const enc = new FecEncoder({ k, m }), dec = new FecDecoder({ holdMs: 1000 });
  const pkts = packets(200, 3);
  const wire = pkts.flatMap((p) => enc.push(p));
  let x = 99;
  const rnd = () => { x = (x * 1103515245 + 12345) >>> 0; return x / 2 ** 32; };
  // Shuffle within windows of 6 and drop one data packet per block.
  for (let i = 0; i < wire.length; i += 6) {
    const w = wire.slice(i, i + 6).sort(() => rnd() - 0.5);
    wire.splice(i, w.length, ...w);
  }
  const dropped = new Set<number>();
  const kept = wire.filter((w) => {
    const p = decodeFecPacket(w) as { kind: string; index: number; block: number };
    if (p.kind === 'data' && p.index === (p.block * 3) % k && !dropped.has(p.block)) { dropped.add(p.block); return false; }
    return true;
  });
  const out: Buffer[] = [];
  kept.forEach((w, t) => out.push(...dec.push(w, t)));
  out.push(...dec.end());
  assert.is(out.length, pkts.length);
  out.forEach((p, i) => assert.ok(p.equals(pkts[i]!), `packet ${i}`));
  // Parity overtaking a delayed (not lost) data packet rebuilds it too, so at least the 25 dropped ones.
  assert.is(dropped.size, 25);
  assert.ok(dec.stats.recovered >= 25, `recovered ${dec.stats.recovered}`);
});

test('a block that takes longer than the hold time to send is still recovered (voice pacing)', () => {
  // 20 ms between packets, k = 8: a block spans 140 ms from its first packet to its parity, more than the
  // 120 ms hold; the block stays open because it keeps receiving packets.
  const enc = new FecEncoder({ k: 8, m: 2 }), dec = new FecDecoder({ holdMs: 120 });
  const pkts = packets(32);
  const out: Buffer[] = [];
  pkts.forEach((p, i) => { for (const w of enc.push(p)) { const h = decodeFecPacket(w) as { kind: string; seq: number }; if (h.kind === 'data' && h.seq % 8 === 1) continue; out.push(...dec.push(w, i * 20)); } out.push(...dec.tick(i * 20 + 10)); });
  out.push(...dec.end());
  assert.equal(out.map((p) => p.readUInt32BE(0)), [...Array(32).keys()]);
  assert.is(dec.stats.recovered, 4);
  assert.is(dec.stats.blocksUnrecoverable, 0);
});

test('a block ended early by flush is recovered with its real k', () => {
  const enc = new FecEncoder({ k: 10, m: 2 }), dec = new FecDecoder();
  const pkts = packets(13);
  const wire = [...pkts.flatMap((p) => enc.push(p)), ...enc.flush()];
  const out: Buffer[] = [];
  wire.forEach((w, t) => { const p = decodeFecPacket(w) as { kind: string; seq: number }; if (p.kind === 'data' && (p.seq === 11 || p.seq === 12)) return; out.push(...dec.push(w, t)); });
  out.push(...dec.end());
  assert.equal(out.map((p) => p.readUInt32BE(0)), [...Array(13).keys()]);
  assert.is(dec.stats.blocksUnrecoverable, 0);
});

test('the reorderer waits holdMs for a gap, then skips it; late and duplicate packets are dropped', () => {
  const r = new Reorderer<string>({ holdMs: 20, maxHeld: 100 });
  assert.equal(r.push(10, 'a', 0), ['a']);
  assert.equal(r.push(12, 'c', 1), []);
  assert.equal(r.tick(15), []);
  assert.equal(r.tick(21), ['c']);
  assert.is(r.stats.lost, 1);
  assert.equal(r.push(11, 'b', 22), [], 'late');
  assert.equal(r.push(12, 'c', 22), [], 'duplicate');
  assert.is(r.stats.late, 2);
  assert.equal(r.push(14, 'e', 30), []);
  assert.equal(r.push(13, 'd', 31), ['d', 'e']);
  const w = new Reorderer<number>({ holdMs: 1e9, maxHeld: 2, firstSeq: 0xfffffffe });
  assert.equal(w.push(0xffffffff, 1, 0), []);
  assert.equal(w.push(0, 2, 0), []);
  assert.equal(w.push(1, 3, 0), [1, 2, 3], 'more than maxHeld held: the gap is skipped, across the u32 wrap');
});

test('malformed FEC packets are counted and dropped', () => {
  const dec = new FecDecoder();
  for (const b of [Buffer.alloc(3), Buffer.from('300400000100000000000000', 'hex'), Buffer.from('20040007010000000000000000', 'hex'), Buffer.from('20ff0500010000000000000000', 'hex'), Buffer.from('21040000010000000000000000', 'hex'), Buffer.from('20040000000000000000000000', 'hex')]) {
    assert.equal(dec.push(b, 0), []);
  }
  assert.is(dec.stats.malformed, 6);
  assert.throws(() => new FecEncoder({ k: 0, m: 1 }), /k >= 1/);
  assert.throws(() => new FecEncoder({ k: 2, m: 1 }).push(Buffer.alloc(70_000)), /exceeds/);
});

test.run();

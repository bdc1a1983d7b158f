// timeout: 120
/** FEC block interleaving: every burst of up to d·m consecutive wire losses is repaired, longer ones are not. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { InputError } from '../../dataplane/errors.ts';
import { decodeFecPacket, encodeFecPacket, FecDecoder, FecEncoder, FecError } from '../../dataplane/wanopt/index.ts';
import { compileText, edit, errorOf, loadInventory, root } from '../controller/fixtures.ts';

const packets = (n: number) => Array.from({ length: n }, (_, i) => { const b = randomBytes(20 + ((i * 53) % 150)); b.writeUInt32BE(i, 0); return b; });

/** Encode `pkts` (flushing a partial last group), drop wire packets [from, from + len), decode; delivered packets and the decoder. */
function run(k: number, m: number, d: number, pkts: Buffer[], from: number, len: number) {
  const enc = new FecEncoder({ k, m, interleave: d });
  const wire = [...pkts.flatMap((p) => enc.push(p)), ...enc.flush()];
  const dec = new FecDecoder({ holdMs: 1e6 });
  const out: Buffer[] = [];
  wire.forEach((w, t) => { if (t < from || t >= from + len) out.push(...dec.push(w, t)); });
  out.push(...dec.end());
  return { out, dec, wire };
}

test('every burst of up to d·m consecutive losses, at every position, is repaired and delivered in order', () => {
  for (const [k, m, d] of [[4, 1, 3], [4, 2, 2], [8, 2, 4], [5, 3, 2], [3, 1, 1]] as const) {
    // Three full groups and a partial one (d + 1 packets: every block used), so bursts across group
    // boundaries and in a flushed group count.
    const pkts = packets(3 * k * d + d + 1);
    const total = run(k, m, d, pkts, 0, 0).wire.length;
    for (let len = 1; len <= d * m; len++) {
      for (let from = 0; from + len <= total; from++) {
        const { out, dec } = run(k, m, d, pkts, from, len);
        const what = `k=${k} m=${m} d=${d} burst ${len} at ${from}`;
        assert.is(out.length, pkts.length, what);
        out.forEach((p, i) => assert.ok(p.equals(pkts[i]!), `${what}: packet ${i}`));
        // (blocksUnrecoverable is not checked: a flushed block whose parity is all lost cannot learn its real k.)
        assert.is(dec.order.stats.lost, 0, what);
      }
    }
  }
});

test('a burst of d·m + 1 losses in one group loses data, with or without interleaving', () => {
  for (const [k, m, d] of [[4, 1, 1], [4, 1, 3], [8, 2, 4]] as const) {
    const pkts = packets(2 * k * d);
    // Starting at the group's first packet, d·m + 1 losses hit block 0 m + 1 times.
    const { out, dec } = run(k, m, d, pkts, 0, d * m + 1);
    assert.ok(out.length < pkts.length, `k=${k} m=${m} d=${d}: delivered ${out.length} of ${pkts.length}`);
    assert.ok(dec.stats.blocksUnrecoverable >= 1);
    assert.is(out.length + dec.order.stats.lost, pkts.length);
  }
});

test('the wire order cycles through the d blocks of a group, data then parity', () => {
  const enc = new FecEncoder({ k: 2, m: 2, interleave: 3 });
  const wire = packets(6).flatMap((p) => enc.push(p)).map((w) => decodeFecPacket(w) as { kind: string; block: number; index: number; seq: number; depth: number });
  assert.equal(wire.map((p) => [p.kind[0], p.block, p.index]), [
    ['d', 0, 0], ['d', 1, 0], ['d', 2, 0], ['d', 0, 1], ['d', 1, 1], ['d', 2, 1],
    ['p', 0, 2], ['p', 1, 2], ['p', 2, 2], ['p', 0, 3], ['p', 1, 3], ['p', 2, 3],
  ]);
  assert.equal(wire.slice(6).map((p) => p.seq), [0, 1, 2, 0, 1, 2], 'parity carries its block\'s first sequence number');
  assert.ok(wire.every((p) => p.depth === 3));
  // The next group starts at block 3: block numbers of different groups never collide.
  assert.is((decodeFecPacket(enc.push(Buffer.alloc(4))[0]!) as { block: number }).block, 3);
});

test('a lost first packet of the first group is still recovered when another block is seen first', () => {
  const pkts = packets(8);
  const { out } = run(2, 1, 4, pkts, 0, 1);
  assert.equal(out.map((p) => p.readUInt32BE(0)), [...Array(8).keys()]);
});

test('the interleaving depth is validated on both sides', () => {
  assert.throws(() => new FecEncoder({ k: 4, m: 1, interleave: 0 }), (e: unknown) => e instanceof FecError && /interleave/.test((e as Error).message));
  assert.throws(() => new FecEncoder({ k: 4, m: 1, interleave: 65 }), /interleave/);
  const bad = encodeFecPacket({ kind: 'data', k: 4, m: 1, index: 0, depth: 1, block: 0, seq: 0, payload: Buffer.alloc(4) });
  bad[4] = 0;
  assert.match(decodeFecPacket(bad) as string, /depth 0/);
});

const intentFile = 'labs/wanopt-two-site/intent.yaml';
const intentText = readFileSync(`${root}${intentFile}`, 'utf8');
const inventory = loadInventory('two-site-dual-wan');

test('wanopt.fec.<class>.interleave is compiled into the bundle, default 1', () => {
  const withDepth = compileText(edit(intentText, 'holdMs: 60 }', 'holdMs: 60, interleave: 4 }'), inventory, intentFile);
  assert.is(withDepth.bundles.get('edge1')!.bundle.wanopt.fec![0]!.interleave, 4);
  assert.is(compileText(intentText, inventory, intentFile).bundles.get('edge2')!.bundle.wanopt.fec![0]!.interleave, 1);
});

for (const bad of ['0', '65', '2.5', '"4"']) {
  test(`interleave ${bad} is an input error naming the file and wanopt.fec.rtp.interleave`, () => {
    let thrown: unknown;
    const msg = errorOf(() => { try { compileText(edit(intentText, 'holdMs: 60 }', `holdMs: 60, interleave: ${bad} }`), inventory, intentFile); } catch (e) { thrown = e; throw e; } });
    assert.ok(thrown instanceof InputError, `InputError, got ${String(thrown)}`);
    assert.is((thrown as InputError).exitCode, 2);
    assert.ok(msg.startsWith(intentFile), msg);
    assert.match(msg, /wanopt\.fec\.rtp\.interleave: /);
  });
}

test.run();

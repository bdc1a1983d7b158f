// timeout: 60
// The lean ingest path: attribute sets interned by the decoder (equal bytes → one object per session)
// and by the RIB (one path per attribute object and peer, freed with its last prefix), best-path changes
// handed over per operation, and the IPv4 hash table checked against a plain Map under random churn.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeMessage, encodeUpdate, type CodecContext, type PathAttributes, type UpdateMessage } from '../../dataplane/bgp/codec/index.ts';
import { Rib, type BestChange, type PeerRef } from '../../dataplane/bgp/rib.ts';

const peer = (id: string, asn: number): PeerRef => ({ id, asn, routerId: id, ibgp: false });
const A = peer('10.0.0.1', 65001), B = peer('10.0.0.2', 65002);
const attrsOf = (path: number[], more: PathAttributes = {}): PathAttributes => ({ origin: 0, asPath: [{ type: 2, asns: path }], nextHop: '192.0.2.1', ...more });
const update = (b: Uint8Array, ctx: CodecContext): UpdateMessage => {
  const d = decodeMessage(b, ctx);
  if (!d.ok || d.msg.type !== 'update') throw new Error(`not an UPDATE: ${JSON.stringify(d)}`);
  return d.msg;
};
const enc = (nlri: string[], attrs: PathAttributes) => encodeUpdate({ withdrawn: [], nlri, attrs }, { as4: true });

test('two UPDATEs with equal attribute bytes decode to one shared attribute object per session', () => {
  const ctx: CodecContext = { as4: true, rawNlri: true };
  const a = update(enc(['10.1.0.0/16'], attrsOf([65001, 3], { communities: [1] })), ctx);
  const b = update(enc(['10.2.0.0/16', '10.3.0.0/24'], attrsOf([65001, 3], { communities: [1] })), ctx);
  assert.ok(a.attrs === b.attrs);
  assert.equal(b.nlriRaw, Uint8Array.of(16, 10, 2, 24, 10, 3, 0));
  const other = update(enc(['10.1.0.0/16'], attrsOf([65001, 3], { communities: [2] })), ctx);
  assert.ok(other.attrs !== a.attrs);
  assert.equal(other.attrs.communities, [2]);
  assert.equal(a.attrs.communities, [1]);
  // Another session (context) decodes its own objects; without rawNlri nothing is shared.
  assert.ok(update(enc(['10.1.0.0/16'], attrsOf([65001, 3], { communities: [1] })), { as4: true, rawNlri: true }).attrs !== a.attrs);
  const plain: CodecContext = { as4: true };
  assert.ok(update(enc(['10.1.0.0/16'], attrsOf([65001])), plain).attrs !== update(enc(['10.1.0.0/16'], attrsOf([65001])), plain).attrs);
});

test('an attribute set with an error is never interned: every UPDATE carrying it reports the error again', () => {
  const ctx: CodecContext = { as4: true, rawNlri: true };
  // ORIGIN value 3 is invalid: RFC 7606 treat-as-withdraw.
  const bad = enc(['10.1.0.0/16'], attrsOf([65001], { origin: 3 as 0 }));
  for (let i = 0; i < 2; i++) {
    const m = update(bad, ctx);
    assert.ok(m.treatAsWithdraw, `decode ${i}`);
    assert.is(m.errors?.length, 1);
  }
  // A set without NEXT_HOP is fine without NLRI but not with it: not interned either, so the check runs again.
  const noNh: PathAttributes = { origin: 0, asPath: [{ type: 2, asns: [65001] }] };
  assert.not.ok(update(encodeUpdate({ withdrawn: ['10.9.0.0/16'], nlri: [], attrs: noNh }, { as4: true }), ctx).treatAsWithdraw);
  assert.ok(update(enc(['10.1.0.0/16'], noNh), ctx).treatAsWithdraw);
});

test('prefixes with the same attribute object share one path; a changed attribute set does not leak into the other prefix', () => {
  const rib = new Rib('default');
  const shared = attrsOf([65001, 7]);
  rib.update(A, '10.1.0.0/16', shared);
  rib.update(A, '10.2.0.0/16', shared);
  rib.update(A, '2001:db8::/32', shared);
  assert.is(rib.registry.paths, 1);
  assert.ok(rib.best('10.1.0.0/16')!.attrs === rib.best('10.2.0.0/16')!.attrs);
  const changed = attrsOf([65001, 8], { med: 5 });
  rib.update(A, '10.2.0.0/16', changed);
  assert.is(rib.registry.paths, 2);
  assert.equal(rib.best('10.1.0.0/16')!.attrs.asPath, [{ type: 2, asns: [65001, 7] }]);
  assert.is(rib.best('10.1.0.0/16')!.attrs.med, undefined);
  assert.is(rib.best('10.2.0.0/16')!.attrs.med, 5);
  assert.ok(rib.best('2001:db8::/32')!.attrs === shared);
  rib.update(undefined, '10.2.0.0/16', attrsOf([]));
  assert.is(rib.learned, 2, 'our own route is best for 10.2.0.0/16');
  rib.withdraw(undefined, '10.2.0.0/16');
  assert.is(rib.learned, 3);
  // The last prefix holding a path frees it: nothing stays behind after withdrawals.
  rib.withdraw(A, '10.1.0.0/16');
  rib.withdraw(A, '2001:db8::/32');
  assert.equal(rib.registry, { paths: 1, lists: 0, interned: 1 });
  rib.withdraw(A, '10.2.0.0/16');
  assert.equal(rib.registry, { paths: 0, lists: 0, interned: 0 });
});

test('best-path changes of one operation arrive as one batch; an identical re-announcement is no change', () => {
  const batches: BestChange[][] = [];
  const rib = new Rib('blue', () => assert.unreachable('onChange must not be called when batching'), { onChanges: (cs) => batches.push(cs) });
  const ctx: CodecContext = { as4: true, rawNlri: true };
  const m = update(enc(['10.1.0.0/16', '10.2.0.0/24', '10.3.0.0/24'], attrsOf([65001])), ctx);
  rib.updateNlri4(A, m.nlriRaw!, m.attrs);
  assert.is(batches.length, 1);
  assert.equal(batches[0]!.map((c) => c.prefix), ['10.1.0.0/16', '10.2.0.0/24', '10.3.0.0/24']);
  assert.ok(batches[0]!.every((c) => c.segment === 'blue' && c.best?.peer === A && !c.previous));
  // The same bytes again decode to the same object: the RIB sees nothing new.
  const again = update(enc(['10.1.0.0/16', '10.2.0.0/24', '10.3.0.0/24'], attrsOf([65001])), ctx);
  rib.updateNlri4(A, again.nlriRaw!, again.attrs);
  assert.is(batches.length, 1);
  rib.update(B, '10.1.0.0/16', attrsOf([65002, 65003]));
  assert.is(batches.length, 1, 'a longer path is not a best-path change');
  rib.dropPeer(A.id);
  assert.is(batches.length, 2);
  assert.equal(batches[1]!.map((c) => `${c.prefix} ${c.best?.peer?.id ?? '-'}`).sort(), ['10.1.0.0/16 10.0.0.2', '10.2.0.0/24 -', '10.3.0.0/24 -']);
  assert.equal(rib.registry, { paths: 1, lists: 0, interned: 1 });
});

test('the IPv4 table agrees with a Map under random churn from two peers, and lists its bests by length then address', () => {
  let seed = 7;
  const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed / 4294967296; };
  const rib = new Rib('default');
  const ref = new Map<string, Map<string, PathAttributes>>(); // prefix → peer id → attrs
  const sets = [attrsOf([65001]), attrsOf([65001, 2]), attrsOf([65002, 3, 4])];
  for (let i = 0; i < 40_000; i++) {
    const len = 8 + Math.floor(rnd() * 25);
    const a = (Math.floor(rnd() * 4096) << 20) & (len === 0 ? 0 : -1 << (32 - len));
    const p = `${(a >>> 24) & 255}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${len}`;
    const who = rnd() < 0.5 ? A : B;
    if (rnd() < 0.4) { rib.withdraw(who, p); ref.get(p)?.delete(who.id); if (!ref.get(p)?.size) ref.delete(p); continue; }
    const at = sets[Math.floor(rnd() * sets.length)]!;
    rib.update(who, p, at);
    if (!ref.has(p)) ref.set(p, new Map());
    ref.get(p)!.set(who.id, at);
  }
  assert.is(rib.size, ref.size);
  const bests = [...rib.bests()];
  assert.equal(bests.map((r) => r.prefix).sort(), [...ref.keys()].sort());
  for (const r of bests) assert.ok(ref.get(r.prefix)!.get(r.peer!.id) === r.attrs, r.prefix);
  const num = (p: string) => { const [ip, l] = p.split('/'); return Number(l) * 2 ** 32 + ip!.split('.').reduce((n, o) => n * 256 + Number(o), 0); };
  assert.ok(bests.every((r, i) => i === 0 || num(bests[i - 1]!.prefix) < num(r.prefix)), 'ordered by length, then address');
  assert.is(rib.received(A.id) + rib.received(B.id), [...ref.values()].reduce((n, m) => n + m.size, 0));
  for (const p of [...ref.keys()]) { rib.withdraw(A, p); rib.withdraw(B, p); }
  assert.is(rib.size, 0);
  assert.equal(rib.registry, { paths: 0, lists: 0, interned: 0 });
});

test.run();

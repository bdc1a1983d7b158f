// timeout: 60
// The full-table ingest path: UPDATEs decoded with raw IPv4 NLRI (CodecContext.rawNlri) agree with the
// string decoder on every fixture and mutation, and the RIB's NLRI fast path (updateNlri4/withdrawNlri4)
// leaves the same table, counts and best-path events as the per-prefix path.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  decodeMessage, encodeUpdate, forEachNlri4, nlriCount, prefix4Text, readNlri, type CodecContext, type PathAttributes, type UpdateMessage,
} from '../../dataplane/bgp/codec/index.ts';
import { Rib, type BestChange, type PeerRef } from '../../dataplane/bgp/rib.ts';
import { fixture, fixtureNames } from './bgp-fixtures.ts';

const AS4: CodecContext = { as4: true };
const RAW: CodecContext = { as4: true, rawNlri: true };
const expand = (b: Uint8Array | undefined): string[] => { const out: string[] = []; if (b) forEachNlri4(b, (a, l) => out.push(prefix4Text(a, l))); return out; };

/** Compares a string decode with a raw decode of the same bytes; returns what differs, or undefined. */
function differs(b: Uint8Array): string | undefined {
  const s = decodeMessage(b, AS4), r = decodeMessage(b, RAW);
  if (s.ok !== r.ok) return `ok ${s.ok} vs ${r.ok}`;
  if (!s.ok || !r.ok) return s.ok || r.ok ? 'unreachable' : s.error.code === r.error.code && s.error.subcode === r.error.subcode ? undefined : `error ${s.error.code}/${s.error.subcode} vs ${r.error.code}/${r.error.subcode}`;
  if (s.msg.type !== 'update' || r.msg.type !== 'update') return s.msg.type === r.msg.type ? undefined : 'type';
  const a = s.msg, c = r.msg;
  if (c.nlri.length || c.withdrawn.length) return 'raw decode filled the string fields';
  if (JSON.stringify(expand(c.nlriRaw)) !== JSON.stringify(a.nlri)) return `nlri ${expand(c.nlriRaw)} vs ${a.nlri}`;
  if (JSON.stringify(expand(c.withdrawnRaw)) !== JSON.stringify(a.withdrawn)) return 'withdrawn';
  if (a.treatAsWithdraw !== c.treatAsWithdraw || (a.errors?.length ?? 0) !== (c.errors?.length ?? 0)) return 'RFC 7606 outcome';
  return undefined;
}

test('raw NLRI decoding agrees with the string decoder on every fixture, truncation and byte change', () => {
  let n = 0;
  for (const name of fixtureNames()) {
    const b = fixture(name);
    for (let len = 0; len <= b.length; len++) { const d = differs(b.subarray(0, len)); assert.is(d, undefined, `${name} cut at ${len}: ${d}`); n++; }
    for (let i = 0; i < b.length; i++) for (const v of [0x00, 0x01, 0x07, 0x18, 0x21, 0x7f, 0x80, 0xff]) {
      const m = b.slice(); m[i] = v;
      const d = differs(m);
      assert.is(d, undefined, `${name} byte ${i}=${v}: ${d}`);
      n++;
    }
  }
  assert.ok(n > 5000);
});

test('nlriCount and forEachNlri4 read what readNlri reads, host bits cleared', () => {
  const field = Uint8Array.of(0, 8, 10, 17, 10, 1, 255, 24, 192, 0, 2, 32, 255, 255, 255, 255, 1, 0x80);
  assert.is(nlriCount(field, 1), 6);
  assert.equal(expand(field), readNlri(field, 1));
  assert.equal(expand(field), ['0.0.0.0/0', '10.0.0.0/8', '10.1.128.0/17', '192.0.2.0/24', '255.255.255.255/32', '128.0.0.0/1']);
  assert.type(nlriCount(Uint8Array.of(33, 1, 2, 3, 4, 5), 1), 'string');
  assert.type(nlriCount(Uint8Array.of(24, 10, 1), 1), 'string');
});

const P: PeerRef = { id: '10.0.0.1', asn: 65001, routerId: '10.0.0.1', ibgp: false };
const Q: PeerRef = { id: '10.0.0.2', asn: 65002, routerId: '10.0.0.2', ibgp: false };
const attrsOf = (asns: number[]): PathAttributes => ({ origin: 0, asPath: [{ type: 2, asns }], nextHop: '192.0.2.1' });
const nlriOf = (prefixes: string[]): Uint8Array => {
  const r = decodeMessage(encodeUpdate({ withdrawn: [], nlri: prefixes, attrs: attrsOf([1]) }, AS4), RAW);
  if (!r.ok || r.msg.type !== 'update') throw new Error('fixture UPDATE did not decode');
  return (r.msg as UpdateMessage).nlriRaw!;
};
const view = (rib: Rib) => [...rib.bests()].map((r) => `${r.prefix} ${r.peer?.id} ${r.attrs.asPath?.[0]?.asns.join(' ')}`).sort();
const events = (cs: BestChange[]) => cs.map((c) => `${c.prefix} ${c.best?.peer?.id ?? '-'} ${c.previous?.peer?.id ?? '-'}`);

test('the NLRI fast path leaves the same table, counts and events as the per-prefix path', () => {
  // 300 distinct /20–/24 prefixes (third octet a multiple of 16, so aligned for each length).
  const prefixes = Array.from({ length: 300 }, (_, i) => `10.${i >> 4}.${(i & 15) * 16}.0/${20 + (i % 5)}`);
  const half = prefixes.slice(0, 150);
  const slowEvents: BestChange[] = [], fastEvents: BestChange[] = [];
  const slow = new Rib('default', (c) => slowEvents.push(c)), fast = new Rib('default', (c) => fastEvents.push(c));
  const a1 = attrsOf([65001, 7]), a2 = attrsOf([65002]), a3 = attrsOf([65001]);
  for (const p of prefixes) slow.update(P, p, a1);
  fast.updateNlri4(P, nlriOf(prefixes), a1);
  for (const p of half) slow.update(Q, p, a2);
  fast.updateNlri4(Q, nlriOf(half), a2);
  for (const p of half.slice(0, 50)) slow.update(P, p, a3);
  fast.updateNlri4(P, nlriOf(half.slice(0, 50)), a3);
  for (const p of prefixes.slice(100, 200)) slow.withdraw(Q, p);
  fast.withdrawNlri4(Q, nlriOf(prefixes.slice(100, 200)));
  assert.equal(view(fast), view(slow));
  assert.equal(events(fastEvents), events(slowEvents));
  assert.is(fast.size, slow.size);
  assert.is(fast.received(P.id), 300);
  assert.is(fast.received(Q.id), slow.received(Q.id));
  assert.is(fast.received(Q.id), 100);
  assert.is(fast.best('10.0.0.0/20')!.peer?.id, P.id, "P's new path (as short as Q's, lower router id) won the prefix back");
  fast.dropPeer(P.id);
  slow.dropPeer(P.id);
  assert.equal(view(fast), view(slow));
  assert.is(fast.size, 100);
});

test('routes and events carry their prefix text and survive JSON', () => {
  const seen: BestChange[] = [];
  const rib = new Rib('blue', (c) => seen.push(c));
  rib.updateNlri4(P, nlriOf(['198.51.100.0/24']), attrsOf([65001]));
  rib.update(P, '2001:db8:0:0::/48', attrsOf([65001]));
  assert.equal(seen.map((c) => c.prefix), ['198.51.100.0/24', '2001:db8::/48']);
  const j = JSON.parse(JSON.stringify(seen[0]));
  assert.is(j.prefix, '198.51.100.0/24');
  assert.is(j.best.prefix, '198.51.100.0/24');
  assert.is(j.best.peer.id, P.id);
  assert.equal([...rib.adjRibIn(P.id).keys()], ['198.51.100.0/24', '2001:db8::/48']);
});

test.run();

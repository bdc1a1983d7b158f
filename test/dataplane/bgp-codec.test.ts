// BGP codec: annotated hex fixtures for every message kind decode to the expected values and re-encode
// byte for byte; malformed fixtures come back as RFC 7606 data; constructed messages round-trip.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  canonicalPrefix, decodeMessage, encodeMessage, encodeUpdate, frameLength, formatIpv6, parseIpv6, chunkPrefixes, nlriBudget,
  encodeAttributes, formatAttributes, type BgpMessage, type CodecContext, type UpdateMessage,
} from '../../dataplane/bgp/codec/index.ts';
import { fixture, fixtureNames, hex, plain } from './bgp-fixtures.ts';

const AS4: CodecContext = { as4: true };
const AS2: CodecContext = { as4: false };
const decodeOk = (b: Uint8Array, ctx = AS4): BgpMessage => {
  const r = decodeMessage(b, ctx);
  if (!r.ok) throw new Error(`decode failed: ${r.error.reason}`);
  return r.msg;
};

const wellFormed: Record<string, { ctx?: CodecContext; expect: unknown; sameBytes?: boolean }> = {
  keepalive: { expect: { type: 'keepalive' } },
  open: {
    expect: {
      type: 'open', version: 4, myAs: 65001, holdTime: 180, routerId: '10.0.0.1',
      capabilities: {
        multiprotocol: [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }], routeRefresh: true, as4: 65001,
        gracefulRestart: { restarting: true, restartTime: 120, families: [{ afi: 1, safi: 1, forwardingPreserved: true }] },
        unknown: [{ code: 70, data: '' }],
      },
    },
  },
  'update-ipv4': {
    expect: {
      type: 'update', withdrawn: ['10.9.0.0/16'], nlri: ['10.1.0.0/16', '10.2.3.0/24'],
      attrs: {
        origin: 0, asPath: [{ type: 2, asns: [65001, 4200000000] }], nextHop: '192.0.2.1', med: 50, localPref: 200,
        atomicAggregate: true, aggregator: { asn: 4200000000, address: '192.0.2.2' },
        communities: [65001 * 65536 + 100, 0xffffff01], largeCommunities: [[4200000000, 1, 2]],
        unknown: [{ flags: 0xe0, code: 99, data: 'abcd' }],
      },
    },
  },
  'update-mp-ipv6': {
    expect: {
      type: 'update', withdrawn: [], nlri: [],
      attrs: { origin: 0, asPath: [{ type: 2, asns: [65001] }], communities: [65001 * 65536 + 200], mpReach: { afi: 2, safi: 1, nextHops: ['2001:db8::1', 'fe80::1'], nlri: ['2001:db8:1::/48'] } },
    },
  },
  'update-mp-unreach-ipv6': { expect: { type: 'update', withdrawn: [], nlri: [], attrs: { mpUnreach: { afi: 2, safi: 1, withdrawn: ['2001:db8:1::/48'] } } } },
  // Re-encoding regenerates AS4_PATH from the whole real path, which RFC 6793 allows; bytes differ, meaning does not.
  'update-as4path': {
    ctx: AS2, sameBytes: false,
    expect: { type: 'update', withdrawn: [], nlri: ['198.51.100.0/24'], attrs: { origin: 2, asPath: [{ type: 2, asns: [65001, 4200000000] }], nextHop: '192.0.2.1' } },
  },
  notification: { expect: { type: 'notification', code: 6, subcode: 2, data: '0462796521' } },
  'route-refresh': { expect: { type: 'route-refresh', afi: 2, safi: 1 } },
};

for (const [name, f] of Object.entries(wellFormed)) {
  test(`fixture ${name} decodes to the annotated values and encodes back`, () => {
    const bytes = fixture(name);
    const ctx = f.ctx ?? AS4;
    const msg = decodeOk(bytes, ctx);
    assert.equal(plain(msg), f.expect);
    const again = encodeMessage(msg, ctx);
    if (f.sameBytes === false) assert.equal(plain(decodeOk(again, ctx)), f.expect);
    else assert.is(hex(again), hex(bytes));
  });
}

const malformed: Record<string, { code: number; subcode: number; action: string; check?: (m: UpdateMessage) => void }> = {
  'bad-marker': { code: 1, subcode: 1, action: 'session-reset' },
  'bad-type': { code: 1, subcode: 3, action: 'session-reset' },
  'bad-withdrawn-length': { code: 3, subcode: 1, action: 'session-reset' },
  'bad-mp-nexthop': { code: 3, subcode: 9, action: 'session-reset' },
  'unknown-well-known': { code: 3, subcode: 2, action: 'session-reset' },
  'bad-prefix-length': { code: 3, subcode: 10, action: 'session-reset' },
  'bad-open-version': { code: 2, subcode: 1, action: 'session-reset' },
  'bad-open-holdtime': { code: 2, subcode: 6, action: 'session-reset' },
  'bad-origin': { code: 3, subcode: 6, action: 'treat-as-withdraw', check: (m) => assert.equal(m.nlri, ['10.2.3.0/24']) },
  'bad-communities-length': { code: 3, subcode: 5, action: 'treat-as-withdraw' },
  'missing-nexthop': { code: 3, subcode: 3, action: 'treat-as-withdraw' },
  'attribute-overrun': { code: 3, subcode: 1, action: 'treat-as-withdraw' },
  'bad-aspath-flags': { code: 3, subcode: 4, action: 'treat-as-withdraw' },
  'bad-aggregator-length': { code: 3, subcode: 5, action: 'attribute-discard', check: (m) => { assert.not.ok(m.treatAsWithdraw); assert.is(m.attrs.aggregator, undefined); assert.is(m.attrs.nextHop, '192.0.2.1'); } },
  'duplicate-med': { code: 3, subcode: 1, action: 'attribute-discard', check: (m) => { assert.not.ok(m.treatAsWithdraw); assert.is(m.attrs.med, 50); } },
};

for (const [name, want] of Object.entries(malformed)) {
  test(`malformed fixture ${name} yields ${want.action} ${want.code}/${want.subcode} as data`, () => {
    const r = decodeMessage(fixture(name), AS4);
    if (want.action === 'session-reset') {
      assert.not.ok(r.ok);
      if (!r.ok) assert.equal({ code: r.error.code, subcode: r.error.subcode, action: r.error.action }, { code: want.code, subcode: want.subcode, action: want.action });
      return;
    }
    assert.ok(r.ok);
    if (!r.ok || r.msg.type !== 'update') return;
    assert.is(r.msg.treatAsWithdraw === true, want.action === 'treat-as-withdraw');
    const e = r.msg.errors?.[0];
    assert.equal({ code: e?.code, subcode: e?.subcode, action: e?.action }, { code: want.code, subcode: want.subcode, action: want.action });
    want.check?.(r.msg);
  });
}

test('every fixture file has an expectation', () => {
  assert.equal(fixtureNames(), [...Object.keys(wellFormed), ...Object.keys(malformed)].sort());
});

test('every truncation and single-byte change of every fixture decodes to data, never a throw', () => {
  let n = 0;
  for (const name of fixtureNames()) {
    const b = fixture(name);
    for (let len = 0; len <= b.length; len++) { decodeMessage(b.subarray(0, len), AS4); n++; }
    for (let i = 0; i < b.length; i++) for (const v of [0x00, 0x01, 0x7f, 0x80, 0xff]) {
      const m = b.slice(); m[i] = v;
      decodeMessage(m, AS4); decodeMessage(m, AS2); n += 2;
    }
  }
  assert.ok(n > 5000);
});

test('constructed messages of every kind round-trip on 4-octet and 2-octet sessions', () => {
  const msgs: BgpMessage[] = [
    { type: 'keepalive' },
    { type: 'notification', code: 4, subcode: 0, data: new Uint8Array(0) },
    { type: 'route-refresh', afi: 1, safi: 1 },
    { type: 'open', version: 4, myAs: 23456, holdTime: 3, routerId: '192.0.2.9', capabilities: { multiprotocol: [{ afi: 1, safi: 1 }], routeRefresh: false, as4: 4200000001, unknown: [] } },
    {
      type: 'update', withdrawn: ['0.0.0.0/0', '10.0.0.0/8', '10.128.0.0/9', '192.0.2.255/32'], nlri: ['172.16.0.0/12'],
      attrs: {
        origin: 1, asPath: [{ type: 2, asns: [65001, 4200000001, 65002] }, { type: 1, asns: [65010, 65011] }], nextHop: '198.51.100.1',
        aggregator: { asn: 4200000001, address: '198.51.100.2' },
        communities: Array.from({ length: 80 }, (_, i) => 65000 * 65536 + i), // 320 bytes: Extended Length
      },
    },
    {
      type: 'update', withdrawn: [], nlri: [],
      attrs: { origin: 0, asPath: [], mpReach: { afi: 2, safi: 1, nextHops: ['2001:db8::ff'], nlri: ['::/0', '2001:db8::/32', '2001:db8:0:1::1/128', 'fd00:1:2:3::/64'] }, largeCommunities: [[1, 2, 3], [4294967295, 0, 7]] },
    },
  ];
  for (const ctx of [AS4, AS2]) for (const m of msgs) {
    const back = decodeOk(encodeMessage(m, ctx), ctx);
    assert.equal(plain(back), plain(m), `${m.type} as4=${ctx.as4}`);
  }
});

test('a 4-octet AS on a 2-octet session travels as AS_TRANS plus AS4_PATH', () => {
  const b = encodeUpdate({ withdrawn: [], nlri: ['10.0.0.0/24'], attrs: { origin: 0, asPath: [{ type: 2, asns: [4200000001] }], nextHop: '10.0.0.1' } }, AS2);
  assert.ok(hex(b).includes('4002040201' + '5ba0'), 'AS_PATH carries AS_TRANS');
  assert.ok(hex(b).includes('c0110602' + '01fa56ea01'), 'AS4_PATH carries the real AS');
});

test('prefixes and IPv6 addresses are canonical', () => {
  assert.is(canonicalPrefix('10.1.2.3/16'), '10.1.0.0/16');
  assert.is(canonicalPrefix('2001:DB8:0:0:1::/48'), '2001:db8::/48');
  assert.is(canonicalPrefix('10.0.0.0/33'), undefined);
  assert.is(canonicalPrefix('2001:db8::1::/64'), undefined);
  assert.is(formatIpv6(parseIpv6('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1');
  assert.is(formatIpv6(parseIpv6('::ffff:192.0.2.1')!), '::ffff:c000:201');
  assert.is(formatIpv6(parseIpv6('1:0:2:0:3:0:4:0')!), '1:0:2:0:3:0:4:0');
});

test('the framer waits for whole messages and flags a bad header at once', () => {
  const k = fixture('keepalive');
  const two = new Uint8Array([...k, ...k]);
  assert.is(frameLength(two.subarray(0, 10)), 0);
  assert.is(frameLength(two, 0), 19);
  assert.is(frameLength(two.subarray(0, 30), 19), 0);
  const bad = frameLength(fixture('bad-marker'));
  assert.is(typeof bad === 'object' && bad.subcode, 1);
});

test('prefixes split into UPDATEs that each fit 4096 bytes', () => {
  const prefixes = Array.from({ length: 3000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`);
  const attrs = { origin: 0 as const, asPath: [{ type: 2 as const, asns: [65001] }], nextHop: '10.0.0.1' };
  const chunks = chunkPrefixes(prefixes, nlriBudget(encodeAttributes(attrs, AS4).length));
  assert.ok(chunks.length >= 3);
  const back: string[] = [];
  for (const c of chunks) back.push(...(decodeOk(encodeUpdate({ withdrawn: [], attrs, nlri: c }, AS4)) as UpdateMessage).nlri);
  assert.equal(back, prefixes);
});

test('attributes format as readable lines', () => {
  const m = decodeOk(fixture('update-ipv4')) as UpdateMessage;
  const lines = formatAttributes(m.attrs);
  assert.ok(lines.includes('AS_PATH: 65001 4200000000'));
  assert.ok(lines.includes('COMMUNITIES: (65001,100) (no-export)'));
  assert.ok(lines.includes('LARGE_COMMUNITY: (4200000000, 1, 2)'));
});

test.run();

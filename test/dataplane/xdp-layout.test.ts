// timeout: 60
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  array, bytes, checkLayouts, ipv6Bytes, ipv6Text, pad, probeHeader, scalar, struct,
} from '../../dataplane/xdp/index.ts';
import { counterLayout, flowKeyLayout, mixedLayout, sharedTestHeader } from './xdp-fixtures.ts';

test('places fields with C alignment and pads the struct to its largest alignment', () => {
  assert.equal(mixedLayout.fields.map((f) => [f.name, f.offset, f.size]), [
    ['kind', 0, 1], ['stamp', 8, 8], ['port', 16, 2], ['addr6', 18, 16], ['mac', 34, 6], ['c', 40, 16], ['ids', 56, 12],
  ]);
  assert.is(mixedLayout.size, 72);
  assert.is(mixedLayout.align, 8);
  assert.is(flowKeyLayout.size, 16);
  assert.is(struct('t', { a: 'u32', b: 'u8' }).size, 8, 'tail padding');
  assert.is(struct('t', { a: 'u8', b: 'be16' }).offsetOf('b'), 2);
  assert.is(struct('t', { a: 'u8', p: pad(2, 2), b: 'u8' }).offsetOf('b'), 4);
  assert.throws(() => mixedLayout.offsetOf('nope'), /no field "nope"/);
});

test('encodes host-order, network-order and address fields and decodes them back', () => {
  const v = {
    kind: 7, stamp: 0x0102030405060708n, port: 0xbeef, addr6: '2001:db8::1', mac: '02:00:5e:10:00:01',
    c: { packets: 1n, bytes: 1500n }, ids: [1, 2, 0xffffffff],
  };
  const b = mixedLayout.encode(v);
  assert.is(b.length, 72);
  assert.is(b[0], 7);
  assert.is(b.readBigUInt64LE(8), 0x0102030405060708n);
  assert.is(b.readUInt16LE(16), 0xbeef);
  assert.is(b.subarray(18, 34).toString('hex'), '20010db8000000000000000000000001');
  assert.is(b.subarray(34, 40).toString('hex'), '02005e100001');
  assert.is(b.readBigUInt64LE(48), 1500n);
  assert.is(b.readUInt32LE(64), 0xffffffff);
  assert.equal(mixedLayout.decode(b), v);
  const k = flowKeyLayout.encode({ saddr: '192.0.2.1', daddr: '10.0.0.2', sport: 0x1234, dport: 53, proto: 17 });
  assert.is(k.toString('hex'), 'c0000201' + '0a000002' + '1234' + '0035' + '11' + '000000');
  assert.equal(flowKeyLayout.decode(k), { saddr: '192.0.2.1', daddr: '10.0.0.2', sport: 0x1234, dport: 53, proto: 17 });
});

test('writes padding as zero, also into a reused buffer', () => {
  const buf = Buffer.alloc(80, 0xff);
  mixedLayout.encode({ kind: 1, stamp: 2, port: 3, addr6: '::', mac: '00:00:00:00:00:00', c: { packets: 0, bytes: 0 }, ids: [0, 0, 0] }, buf, 4);
  assert.equal([...buf.subarray(5, 12)], [0, 0, 0, 0, 0, 0, 0], 'padding after kind');
  assert.equal([...buf.subarray(72, 76)], [0, 0, 0, 0], 'tail padding');
  assert.equal([...buf.subarray(76)], [0xff, 0xff, 0xff, 0xff], 'bytes after the struct untouched');
});

test('rejects missing fields, out-of-range numbers and malformed addresses by path', () => {
  assert.throws(() => flowKeyLayout.encode({ saddr: '1.2.3.4', daddr: '1.2.3.4', sport: 1, dport: 2 } as never), /pt_test_flow_key\.proto: missing/);
  assert.throws(() => flowKeyLayout.encode({ saddr: '1.2.3.4', daddr: '1.2.3.4', sport: 70000, dport: 2, proto: 6 }), /sport: 70000 is outside 0\.\.65535/);
  assert.throws(() => flowKeyLayout.encode({ saddr: '1.2.3', daddr: '1.2.3.4', sport: 1, dport: 2, proto: 6 }), /saddr: expected an IPv4 address/);
  assert.throws(() => counterLayout.encode({ packets: -1n, bytes: 0n }), /packets: -1 is outside/);
  assert.throws(() => mixedLayout.encode({ ...mixedLayout.decode(Buffer.alloc(72)), ids: [1, 2] }), /ids: expected an array of 3 elements/);
  assert.throws(() => mixedLayout.decode(Buffer.alloc(71)), /needs 72 bytes/);
  assert.throws(() => struct('t', { a: 'u128' as 'u64' }), /unknown field type "u128"/);
  assert.throws(() => bytes(0), /positive integer/);
});

test('converts IPv6 addresses between text and bytes', () => {
  for (const [text, hex] of [
    ['::', '00'.repeat(16)],
    ['::1', '00'.repeat(15) + '01'],
    ['2001:db8::1', '20010db8' + '00'.repeat(11) + '01'],
    ['fe80::1:2', 'fe80' + '00'.repeat(10) + '00010002'],
    ['::ffff:192.0.2.1', '00'.repeat(10) + 'ffff' + 'c0000201'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
  ] as const) {
    assert.is(ipv6Bytes(text).toString('hex'), hex, text);
  }
  assert.is(ipv6Text(ipv6Bytes('2001:0db8:0:0:1:0:0:1')), '2001:db8::1:0:0:1', 'the first longest zero run collapses');
  assert.is(ipv6Text(ipv6Bytes('1:0:2:3:4:5:6:7')), '1:0:2:3:4:5:6:7', 'a single zero group stays');
  assert.throws(() => ipv6Bytes('1::2::3'), /not an IPv6 address/);
});

test('scalar codecs and byte arrays round-trip', () => {
  assert.is(scalar('u32').encode(7).toString('hex'), '07000000');
  assert.is(scalar('be32').encode(7).toString('hex'), '00000007');
  assert.equal(scalar(array('u16', 3)).decode(scalar(array('u16', 3)).encode([1, 2, 3])), [1, 2, 3]);
  const b = struct('t', { raw: bytes(3) });
  assert.equal([...b.decode(b.encode({ raw: Buffer.from([1, 2, 3]) })).raw], [1, 2, 3]);
});

test('the fixture layouts match their C header for BPF and for the host', () => {
  const r = checkLayouts(sharedTestHeader, [mixedLayout, flowKeyLayout]);
  assert.equal(r.problems, []);
  assert.equal([...r.structs.keys()].sort(), ['pt_test_counters', 'pt_test_flow_key', 'pt_test_mixed']);
  assert.equal(r.structs.get('pt_test_mixed')!.members.map((m) => m.typeName), ['__u8', '__u64', '__u16', '__u8[16]', '__u8[6]', 'struct pt_test_counters', '__u32[3]']);
});

test('reports every way a layout can drift from the header', () => {
  const wrong = [
    struct('pt_test_flow_key', { saddr: 'u32', daddr: 'ipv4', sport: 'be16', dport: 'u16', proto: 'u8', extra: 'u8', pad: pad(2) }),
    struct('pt_test_mixed', {
      kind: 'u8', stamp: 'u32', port: 'u16', addr6: 'ipv6', mac: 'mac', c: struct('pt_other', { packets: 'u64', bytes: 'u64' }), ids: array('u32', 2),
    }),
    struct('pt_test_counters', { packets: 'u64' }),
  ];
  const { problems } = checkLayouts(sharedTestHeader, wrong);
  const expect = [
    /pt_test_flow_key\.saddr: C declares __be32 \(network order\), TypeScript u32/,
    /pt_test_flow_key\.dport: C declares __be16 \(network order\), TypeScript u16/,
    /pt_test_flow_key\.pad: size is 3 in C .*, 2 in TypeScript/,
    /pt_test_flow_key\.extra: in TypeScript but not in C/,
    /pt_test_mixed: size is 72 in C, \d+ in TypeScript/,
    /pt_test_mixed\.port: offset is 16 in C, 8 in TypeScript/,
    /struct pt_other: no definition in .*xdp_test_shared\.h/,
    /pt_test_mixed\.c: C type struct pt_test_counters, TypeScript struct pt_other/,
    /pt_test_mixed\.ids: size is 12 in C \(__u32\[3\]\), 8 in TypeScript/,
    /pt_test_counters\.bytes: missing in TypeScript \(C: __u64 at offset 8\)/,
    /pt_test_counters: size is 16 in C, 8 in TypeScript/,
  ];
  for (const re of expect) assert.ok(problems.some((p) => re.test(p)), `expected a problem matching ${re}; got:\n${problems.join('\n')}`);
  assert.throws(() => checkLayouts(sharedTestHeader, [struct('pt_nope', { a: 'u8' })]), /no definition of struct pt_nope/);
});

const sharedHeader = fileURLToPath(new URL('../../bpf/include/patronus_shared.h', import.meta.url));

test('every struct of the shared BPF header looks the same to BPF and to the host', () => {
  const names = [...readFileSync(sharedHeader, 'utf8').matchAll(/^struct (\w+) \{/gm)].map((m) => m[1]!);
  assert.ok(names.length > 0);
  const r = probeHeader(sharedHeader, names);
  assert.equal(r.problems, []);
  assert.equal([...r.structs.keys()].sort(), [...names].sort());
});

test.run();

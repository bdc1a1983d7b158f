/** The probe wire format: annotated hex fixtures, round trips, and malformed datagrams as data. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeProbe, encodeProbe, PROBE_LENGTH, PROBE_REPORT_LENGTH, type ProbeMessage } from '../../dataplane/probe/index.ts';

const hex = (s: string) => Buffer.from(s.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex');

const REQUEST = hex(`
  5054              # magic "PT"
  01                # version 1
  01                # type 1 = request
  0001              # path id 1
  0000              # reserved
  00000007          # sequence 7
  000000003b9acbf4  # sender timestamp 1 000 000 500 µs = 1 000 000.5 ms
  0000000000000000  # reflector receive timestamp (none in a request)
  0000000000000000  # reflector transmit timestamp
  0000              # observed port
  00                # observed family: none
  00                # reserved
  00000000000000000000000000000000  # observed address (none)
`);
const REPLY_V4 = hex(`
  5054 01
  02                # type 2 = reply
  0102              # path id 258
  0000
  fffffffe          # sequence 4294967294 (about to wrap)
  000000003b9acbf4  # sender timestamp echoed: 1 000 000.5 ms
  0000000077359400  # reflector receive 2 000 000 000 µs
  00000000773594fa  # reflector transmit 2 000 000 250 µs
  9c40              # observed port 40000
  04                # observed family IPv4
  00
  cb007107000000000000000000000000  # 203.0.113.7, rest zero
`);
const REPLY_V6 = hex(`
  5054 01 02
  0003 0000
  00000001          # sequence 1
  0000000000000001  # sender timestamp 1 µs
  0000000000000002  # reflector receive 2 µs
  0000000000000003  # reflector transmit 3 µs
  12b0              # observed port 4784
  06                # observed family IPv6
  00
  20010db8000000000000000000000001  # 2001:db8::1
`);

const reqMsg: ProbeMessage = { type: 'request', pathId: 1, seq: 7, senderTs: 1_000_000.5, reflectorRxTs: 0, reflectorTxTs: 0 };
const v4Msg: ProbeMessage = { type: 'reply', pathId: 258, seq: 4294967294, senderTs: 1_000_000.5, reflectorRxTs: 2_000_000, reflectorTxTs: 2_000_000.25, observed: { address: '203.0.113.7', port: 40000 } };
const v6Msg: ProbeMessage = { type: 'reply', pathId: 3, seq: 1, senderTs: 0.001, reflectorRxTs: 0.002, reflectorTxTs: 0.003, observed: { address: '2001:db8::1', port: 4784 } };

test('every fixture is exactly one probe long', () => {
  for (const f of [REQUEST, REPLY_V4, REPLY_V6]) assert.is(f.length, PROBE_LENGTH);
});

test('encodes a request, an IPv4 reply and an IPv6 reply byte for byte as the annotated fixtures', () => {
  assert.is(encodeProbe(reqMsg).toString('hex'), REQUEST.toString('hex'));
  assert.is(encodeProbe(v4Msg).toString('hex'), REPLY_V4.toString('hex'));
  assert.is(encodeProbe(v6Msg).toString('hex'), REPLY_V6.toString('hex'));
});

test('decodes the fixtures into the messages they annotate', () => {
  assert.equal(decodeProbe(REQUEST), { ok: true, msg: reqMsg });
  assert.equal(decodeProbe(REPLY_V4), { ok: true, msg: v4Msg });
  assert.equal(decodeProbe(REPLY_V6), { ok: true, msg: v6Msg });
});

test('round-trips messages with microsecond timestamps and every path id and sequence edge', () => {
  for (const m of [
    { ...reqMsg, pathId: 0, seq: 0 },
    { ...reqMsg, pathId: 0xffff, seq: 0xffffffff, senderTs: 1_767_225_600_123.456 },
    { ...v4Msg, observed: { address: '0.0.0.0', port: 0 } },
    { ...v6Msg, observed: { address: 'fe80::1:2:3:4', port: 65535 } },
  ]) assert.equal(decodeProbe(encodeProbe(m)), { ok: true, msg: m });
});

test('ignores trailing padding after the fixed part', () => {
  assert.equal(decodeProbe(Buffer.concat([REPLY_V4, Buffer.alloc(100)])), { ok: true, msg: v4Msg });
});

const REPLY_REPORT = Buffer.concat([REPLY_V4, hex(`
  01                # block type 1 = receive report
  01                # flags: counters valid
  0000              # reserved
  000004b0          # 1200 data packets received on the prober's path
  00000004          # 4 missing from its sequence numbers
  00000001          # 1 out of order
`)]);
const reportMsg: ProbeMessage = { ...v4Msg, ext: true, rxReport: { received: 1200, lost: 4, reordered: 1 } };

test('carries the receive report in a 72-byte block; a request reserves the block empty so the reply does not grow', () => {
  assert.is(REPLY_REPORT.length, PROBE_REPORT_LENGTH);
  assert.is(encodeProbe(reportMsg).toString('hex'), REPLY_REPORT.toString('hex'));
  assert.equal(decodeProbe(REPLY_REPORT), { ok: true, msg: reportMsg });
  const req = encodeProbe({ ...reqMsg, ext: true });
  assert.is(req.length, PROBE_REPORT_LENGTH);
  assert.is(req.subarray(56).toString('hex'), '01' + '00'.repeat(15), 'type 1, flags 0, counters zero');
  assert.equal(decodeProbe(req), { ok: true, msg: { ...reqMsg, ext: true } });
  const wrapped: ProbeMessage = { ...v4Msg, ext: true, rxReport: { received: 0xffffffff, lost: 0, reordered: 0xffffffff } };
  assert.equal(decodeProbe(encodeProbe(wrapped)), { ok: true, msg: wrapped });
});

test('padding that is not a report block stays ignored', () => {
  assert.equal(decodeProbe(Buffer.concat([REPLY_V4, Buffer.alloc(16)])), { ok: true, msg: v4Msg });
});

const malformed: [string, Buffer, string, RegExp][] = [
  ['an empty datagram', Buffer.alloc(0), 'truncated', /at least 56 bytes, got 0/],
  ['a request cut one byte short', REQUEST.subarray(0, 55), 'truncated', /got 55/],
  ['a wrong magic', Buffer.concat([hex('4242'), REQUEST.subarray(2)]), 'bad-magic', /0x4242/],
  ['version 2', Buffer.concat([REQUEST.subarray(0, 2), hex('02'), REQUEST.subarray(3)]), 'bad-version', /got 2/],
  ['type 3', Buffer.concat([REQUEST.subarray(0, 3), hex('03'), REQUEST.subarray(4)]), 'bad-type', /got 3/],
  ['address family 5', Buffer.concat([REPLY_V4.subarray(0, 38), hex('05'), REPLY_V4.subarray(39)]), 'bad-family', /got 5/],
];
for (const [what, bytes, code, detail] of malformed) {
  test(`returns ${code} as data for ${what}`, () => {
    const r = decodeProbe(bytes);
    assert.is(r.ok, false);
    if (!r.ok) { assert.is(r.error.code, code); assert.match(r.error.detail, detail); }
  });
}

test.run();

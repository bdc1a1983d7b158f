/** The WAN-opt stream protocol's frames: annotated hex fixtures, round trips, malformed frames as data. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { decodeFrame, encodeFrame, FrameReader, type Frame } from '../../dataplane/wanopt/index.ts';

const hex = (s: string) => Buffer.from(s.replace(/#.*$/gm, '').replace(/\s+/g, ''), 'hex');
const digest = createHash('sha256').update('abc').digest();
const D = digest.toString('hex');

const REF = hex(`
  5057        # magic "PW"
  01          # version 1
  04          # type 4 = REF
  00000003    # flow 3
  00000024    # payload length 36
  ${D}        # digest: SHA-256("abc")
  00002000    # raw length 8192
`);

const LITERAL = hex(`
  5057 01 03  # magic, version 1, type 3 = LITERAL
  00000005    # flow 5
  00000028    # payload length 40 = 32 + 1 + 4 + 3
  ${D}        # digest
  00          # codec 0 = none
  00000003    # raw length 3
  616263      # data "abc"
`);

const ACK = hex(`5057 01 07 00000000 00000004 0000002a  # ACK on flow 0: 42 REFs processed`);

test('fixtures decode field by field and encode back to the same bytes', () => {
  const r = decodeFrame(REF);
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.equal(r.frame, { type: 'REF', flow: 3, digest, rawLen: 8192 });
  assert.is(r.used, REF.length);
  assert.ok(encodeFrame(r.frame).equals(REF));
  const l = decodeFrame(LITERAL);
  assert.ok(l.ok && l.frame.type === 'LITERAL' && l.frame.data.toString() === 'abc' && l.frame.codec === 0 && l.frame.rawLen === 3);
  if (l.ok) assert.ok(encodeFrame(l.frame).equals(LITERAL));
  const a = decodeFrame(ACK);
  assert.ok(a.ok && a.frame.type === 'ACK' && a.frame.refs === 42);
});

const all: Frame[] = [
  { type: 'HELLO', flow: 0, maxFrame: 1 << 20 },
  { type: 'OPEN', flow: 7, meta: Buffer.from('10.1.0.5:443') },
  { type: 'OPEN', flow: 9, meta: Buffer.alloc(0) },
  { type: 'LITERAL', flow: 7, digest, codec: 1, rawLen: 9000, data: Buffer.from('compressed') },
  { type: 'REF', flow: 7, digest, rawLen: 65536 },
  { type: 'REQUEST', flow: 0, digest },
  { type: 'RESEND', flow: 0, digest, codec: 2, rawLen: 4, data: Buffer.from('abcd') },
  { type: 'ACK', flow: 0, refs: 0xffffffff },
  { type: 'CLOSE', flow: 0xfffffffe },
  { type: 'RESET', flow: 0, reason: 'bye — ünïcode' },
  { type: 'RESET', flow: 3, reason: '' },
  { type: 'WINDOW', flow: 7, credit: 1 << 20 },
];

test('every frame type round-trips, also when the stream is split at every byte', () => {
  for (const f of all) {
    const r = decodeFrame(encodeFrame(f));
    assert.ok(r.ok, f.type);
    if (r.ok) assert.equal(r.frame, f);
  }
  const stream = Buffer.concat(all.map(encodeFrame));
  for (const step of [1, 2, 3, 7, 13, 64, stream.length]) {
    const rd = new FrameReader();
    const got: Frame[] = [];
    for (let i = 0; i < stream.length; i += step) {
      const { frames, error } = rd.push(stream.subarray(i, i + step));
      assert.is(error, undefined);
      got.push(...frames);
    }
    assert.is(rd.end(), undefined);
    assert.equal(got, all, `step ${step}`);
  }
});

const bad: [string, Buffer, string][] = [
  ['wrong magic', hex('5058 01 08 00000001 00000000'), 'bad-magic'],
  ['wrong magic seen from 2 bytes', hex('0000'), 'bad-magic'],
  ['version 2', hex('5057 02 08 00000001 00000000'), 'bad-version'],
  ['type 0', hex('5057 01 00 00000001 00000000'), 'unknown-type'],
  ['type 200', hex('5057 01 c8 00000001 00000000'), 'unknown-type'],
  ['length beyond the limit, refused from the header', hex('5057 01 03 00000001 00100001'), 'oversized'],
  ['LITERAL shorter than its chunk header', hex(`5057 01 03 00000001 00000010 ${'00'.repeat(16)}`), 'truncated'],
  ['REF with a short digest', hex(`5057 01 04 00000001 00000020 ${'00'.repeat(32)}`), 'malformed'],
  ['ACK of 3 bytes', hex('5057 01 07 00000000 00000003 000000'), 'malformed'],
  ['CLOSE with a payload', hex('5057 01 08 00000001 00000001 00'), 'malformed'],
  ['REQUEST on a flow', hex(`5057 01 05 00000001 00000020 ${D}`), 'malformed'],
  ['OPEN on flow 0', hex('5057 01 02 00000000 00000000'), 'malformed'],
  ['HELLO of 0 bytes', hex('5057 01 01 00000000 00000000'), 'malformed'],
  ['WINDOW of 2 bytes', hex('5057 01 0a 00000003 00000002 0001'), 'malformed'],
  ['WINDOW on flow 0', hex('5057 01 0a 00000000 00000004 00010000'), 'malformed'],
  ['OPEN metadata over 4 KiB', Buffer.concat([hex('5057 01 02 00000001 00001001'), Buffer.alloc(4097)]), 'malformed'],
];

test('malformed frames are errors with a code, never exceptions', () => {
  for (const [name, b, code] of bad) {
    const r = decodeFrame(b);
    assert.ok(!r.ok && 'error' in r, name);
    if (!r.ok && 'error' in r) assert.is(r.error.code, code, name);
    const rd = new FrameReader();
    assert.is(rd.push(b).error?.code, code, `${name} via reader`);
    assert.is(rd.push(encodeFrame({ type: 'CLOSE', flow: 1 })).error?.code, code, 'a reader stays failed');
  }
});

test('a stream that ends inside a frame is a truncation error', () => {
  const rd = new FrameReader();
  assert.equal(rd.push(REF.subarray(0, 20)).frames, []);
  assert.is(rd.end()?.code, 'truncated');
  const ok = new FrameReader();
  ok.push(REF);
  assert.is(ok.end(), undefined);
});

test('random bytes never throw from the decoder', () => {
  let x = 12345;
  for (let n = 0; n < 3000; n++) {
    const b = Buffer.allocUnsafe(1 + (n % 80));
    for (let i = 0; i < b.length; i++) { x = (x * 1103515245 + 12345) >>> 0; b[i] = x >>> 24; }
    if (n % 3 === 0) { b[0] = 0x50; if (b.length > 1) b[1] = 0x57; if (b.length > 2) b[2] = 1; if (b.length > 3) b[3] = 1 + (n % 9); }
    const r = decodeFrame(b);
    assert.ok(typeof r.ok === 'boolean');
  }
});

test.run();

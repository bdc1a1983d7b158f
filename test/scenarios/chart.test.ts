// timeout: 30
// PNG charts without a browser (scenarios/chart.ts): a valid PNG (signature, chunk CRCs, IHDR size), the
// pixels decode back and are not blank, and the marks land where the data puts them.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { inflateSync } from 'node:zlib';
import { complianceChart, crc32, latencyChart, EVENT_COLOURS, PALETTE } from '../../scenarios/index.ts';

/** Decode our own PNGs (8-bit RGBA, filter 0) after checking every chunk's CRC. */
function decode(png: Buffer): { width: number; height: number; px: (x: number, y: number) => number[] } {
  assert.equal([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  let off = 8, width = 0, height = 0;
  const idat: Buffer[] = [];
  while (off < png.length) {
    const len = png.readUInt32BE(off), type = png.toString('ascii', off + 4, off + 8);
    assert.is(png.readUInt32BE(off + 8 + len), crc32(png.subarray(off + 4, off + 8 + len)), `CRC of ${type}`);
    if (type === 'IHDR') { width = png.readUInt32BE(off + 8); height = png.readUInt32BE(off + 12); assert.equal([...png.subarray(off + 16, off + 21)], [8, 6, 0, 0, 0]); }
    if (type === 'IDAT') idat.push(png.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  assert.is(raw.length, (width * 4 + 1) * height);
  return { width, height, px: (x, y) => [...raw.subarray(y * (width * 4 + 1) + 1 + x * 4, y * (width * 4 + 1) + 1 + x * 4 + 3)] };
}

test('CRC-32 matches the standard check value', () => {
  assert.is(crc32(Buffer.from('123456789')), 0xcbf43926);
});

test('the latency chart is an 800 × 300 PNG with the series, the event line and mostly background', () => {
  const png = latencyChart([{ label: 'edge1 mpls', points: [[0, 10], [5000, 10], [10000, 10]] }, { label: 'edge1 inet', points: [[0, 40], [4000, null], [10000, 40]] }],
    [{ tMs: 5000, kind: 'cut' }], 10_000);
  const { width, height, px } = decode(png);
  assert.equal([width, height], [800, 300]);
  const counts = new Map<string, number>();
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) { const k = px(x, y).join(); counts.set(k, (counts.get(k) ?? 0) + 1); }
  assert.ok((counts.get('255,255,255') ?? 0) > width * height * 0.8, 'mostly white');
  assert.ok((counts.get(PALETTE[0]!.join()) ?? 0) > 500, 'the first series is drawn');
  assert.ok((counts.get(EVENT_COLOURS.cut!.join()) ?? 0) > 200, 'the cut is marked');
  // x = 40 + 0.5 × 750 = 415 at t = 5 s: the cut's line crosses the plot there.
  assert.equal(px(415, 20), [...EVENT_COLOURS.cut!]);
  // The inet series is broken between its null point and the next one: nothing of its colour left of x 415.
  let left = 0;
  for (let y = 0; y < height - 20; y++) for (let x = 200; x < 400; x++) if (px(x, y).join() === PALETTE[1]!.join()) left++;
  assert.is(left, 0);
});

test('the compliance chart draws a green bar above the minimum and a red one below', () => {
  const { width, height, px } = decode(complianceChart([{ label: 'voice', value: 0.95, min: 0.8 }, { label: 'video', value: 0.5, min: 0.8 }]));
  assert.equal([width, height], [400, 300]);
  // Plot 350 × 260 from (40, 10); two slots of 175 px: bar centres at x 127 and 302, y 250 is near zero.
  assert.equal(px(127, 250), [44, 160, 44]);
  assert.equal(px(302, 250), [214, 39, 40]);
  assert.equal(px(302, 40), [255, 255, 255], 'the 50 % bar stops half way');
});

test.run();

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

test('labelled charts carry tick values and axis titles in the margins; unlabelled ones leave them blank', () => {
  const series = [{ label: 'edge1 mpls', points: [[0, 10], [5000, 12], [10000, 10]] as [number, number][] }];
  const on = decode(latencyChart(series, [], 10_000));
  const off = decode(latencyChart(series, [], 10_000, { labels: false }));
  assert.equal([on.width, on.height, off.width, off.height], [800, 300, 800, 300]);
  // Plot 750 × 246 from (40, 10): the x axis at y 256; tick values at y 261…267, the title at y 271…277.
  const dark = (d: ReturnType<typeof decode>, x0: number, y0: number, x1: number, y1: number) => {
    let n = 0;
    for (let y = y0; y <= y1; y++) for (let x = x0; x <= x1; x++) if (d.px(x, y).every((v) => v < 100)) n++;
    return n;
  };
  // "5" under t = 5 s (x 415), "10" under the right end, the y title up the left edge, "0" beside the origin.
  for (const [x0, y0, x1, y1, what] of [[410, 261, 420, 267, '5 s'], [775, 261, 795, 267, '10 s'], [380, 271, 450, 277, 'time (s)'], [2, 60, 8, 220, 'latency (ms)'], [28, 250, 36, 262, 'the 0 ms tick']] as const) {
    assert.ok(dark(on, x0, y0, x1, y1) > 5, `${what} is written`);
    assert.is(dark(off, x0, y0, x1, y1), 0, `${what} is absent without labels`);
  }
  // The digit drawn at 5 s is the font's 5: its top row is a full 5-pixel bar (x 413…417, y 261).
  assert.equal([413, 414, 415, 416, 417].map((x) => on.px(x, 261).every((v) => v < 100)), [true, true, true, true, true]);
  // The plot itself is the same pixels in both.
  let differ = 0;
  for (let y = 11; y < 255; y++) for (let x = 41; x < 790; x++) if (on.px(x, y).join() !== off.px(x, y).join()) differ++;
  assert.is(differ, 0);
  const bars = [{ label: 'voice', value: 0.9, min: 0.8 }];
  const con = decode(complianceChart(bars)), coff = decode(complianceChart(bars, { labels: false }));
  assert.ok(dark(con, 2, 60, 8, 220) > 5 && dark(coff, 2, 60, 8, 220) === 0, 'the compliance title');
  assert.ok(dark(con, 20, 5, 36, 15) > 5 && dark(coff, 20, 5, 36, 15) === 0, 'the 100 % tick value');
});

test.run();

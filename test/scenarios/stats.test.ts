// The receiver-side arithmetic of scenario flows (scenarios/traffic/stats.ts), on hand-made records.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { byteIntervals, flowIntervals, gaps, parseRecord, rfc3550Jitter, timerLatePercentile, type Arrival, type SendBatch } from '../../scenarios/traffic/stats.ts';

const T0 = 1_000_000;
/** A 50 pps flow for `seconds`: one send batch per 100 ms (5 packets), every packet delayed by `owd(seq)` ms. */
function cbr(seconds: number, owd: (seq: number) => number, drop: (seq: number) => boolean = () => false): { sends: SendBatch[]; arrivals: Arrival[] } {
  const sends: SendBatch[] = [], arrivals: Arrival[] = [];
  for (let b = 0; b < seconds * 10; b++) sends.push({ t: T0 + (b + 1) * 100 - 1, first: b * 5, end: b * 5 + 5, lateMs: 0.1 });
  for (let seq = 0; seq < seconds * 50; seq++) {
    const sent = T0 + seq * 20;
    if (!drop(seq)) arrivals.push({ seq, sent, recv: sent + owd(seq) });
  }
  return { sends, arrivals };
}

test('parses the generator records and ignores anything else', () => {
  assert.equal(parseRecord('s 1000.5 10 15 0.250'), { kind: 's', t: 1000.5, first: 10, end: 15, lateMs: 0.25 });
  assert.equal(parseRecord('p 7 1000.000 1010.125'), { kind: 'p', seq: 7, sent: 1000, recv: 1010.125 });
  assert.equal(parseRecord('b 1100 65536 0'), { kind: 'b', t: 1100, bytes: 65536, lateMs: 0 });
  assert.equal(parseRecord('t 1100 5 1.5 38.2'), { kind: 't', t: 1100, ticks: 5, late: [1.5, 38.2] });
  assert.is(parseRecord('t 1100 1 1.5 38.2'), undefined, 'more late ticks than ticks');
  assert.is(parseRecord('ready'), undefined);
  assert.is(parseRecord('p 1 x 3'), undefined);
});

test('timer lateness p99 is over every tick: one stall late by 38 ms in 250 ticks is not the p99', () => {
  const batches = Array.from({ length: 50 }, (_, i) => ({ t: T0 + i * 100, ticks: 5, late: i === 7 ? [38.3, 18.3] : i % 10 === 0 ? [1.2] : [] }));
  // 250 ticks: 243 under 1 ms, five at 1.2, then 18.3 and 38.3. Nearest rank of p99 is the 248th tick.
  assert.is(timerLatePercentile(batches, 99), 1.2);
  assert.is(timerLatePercentile(batches, 100), 38.3);
  assert.is(timerLatePercentile(batches, 50), 0);
  // Under load every tick is late: the p99 says so.
  const loaded = [{ t: T0, ticks: 4, late: [31, 35, 40, 45] }];
  assert.is(timerLatePercentile(loaded, 99), 45);
  assert.is(timerLatePercentile(loaded, 50), 35);
  assert.is(timerLatePercentile([], 99), 0);
});

test('counts sent, received and lost per interval and takes latency percentiles of what arrived', () => {
  const { sends, arrivals } = cbr(3, (seq) => 10 + (seq % 50) / 5, (seq) => seq >= 60 && seq < 70);
  const rows = flowIntervals(sends, arrivals, { t0: T0, intervalMs: 1000, count: 3 });
  assert.equal(rows.map((r) => [r.sent, r.received, r.lost]), [[50, 50, 0], [50, 40, 10], [50, 50, 0]]);
  // Delays 10.0 … 19.8 ms in steps of 0.2: nearest-rank p50 is the 25th value, p95 the 48th, p99 the 50th.
  assert.ok(Math.abs(rows[0]!.latP50! - (10 + 24 * 0.2)) < 1e-6);
  assert.ok(Math.abs(rows[0]!.latP95! - (10 + 47 * 0.2)) < 1e-6);
  assert.ok(Math.abs(rows[0]!.latP99! - 19.8) < 1e-6);
  // Ten packets missing: 11 × 20 ms between the sends around them, plus their delay difference (14 − 11.8 ms).
  assert.ok(Math.abs(rows[1]!.maxGap! - (11 * 20 + 2.2)) < 1e-6, `gap ${rows[1]!.maxGap}`);
});

test('a packet that arrives in the next interval still counts in the interval it was sent in', () => {
  const { sends, arrivals } = cbr(2, (seq) => (seq === 49 ? 500 : 5));
  const rows = flowIntervals(sends, arrivals, { t0: T0, intervalMs: 1000, count: 2 });
  assert.equal(rows.map((r) => [r.sent, r.received, r.lost]), [[50, 50, 0], [50, 50, 0]]);
  assert.is(rows[0]!.latP99, 500);
});

test('duplicates count once, and as duplicates', () => {
  const { sends, arrivals } = cbr(1, () => 5);
  arrivals.push({ ...arrivals[3]!, recv: arrivals[3]!.recv + 1 });
  const [r] = flowIntervals(sends, arrivals, { t0: T0, intervalMs: 1000, count: 1 });
  assert.equal([r!.sent, r!.received, r!.lost, r!.duplicates], [50, 50, 0, 1]);
});

test('jitter follows RFC 3550: J += (|D| − J) / 16 over transit-time differences in receive order', () => {
  const j = rfc3550Jitter([{ seq: 0, sent: 0, recv: 10 }, { seq: 1, sent: 20, recv: 32 }, { seq: 2, sent: 40, recv: 50 }]);
  assert.is(j[0], 0);
  assert.is(j[1], 2 / 16);
  assert.ok(Math.abs(j[2]! - (2 / 16 + (2 - 2 / 16) / 16)) < 1e-12);
  // A constant delay has no jitter; alternating ±4 ms converges towards 8 ms.
  const { sends, arrivals } = cbr(4, (seq) => (seq % 2 ? 14 : 6));
  const rows = flowIntervals(sends, arrivals, { t0: T0, intervalMs: 1000, count: 4 });
  assert.ok(rows[3]!.jitter! > 7.9 && rows[3]!.jitter! <= 8, `jitter ${rows[3]!.jitter}`);
  assert.is(flowIntervals(...Object.values(cbr(1, () => 7)) as [SendBatch[], Arrival[]], { t0: T0, intervalMs: 1000, count: 1 })[0]!.jitter, 0);
});

test('an interval with nothing received has no latency and loses everything sent', () => {
  const { sends, arrivals } = cbr(2, () => 5, (seq) => seq >= 50);
  const rows = flowIntervals(sends, arrivals, { t0: T0, intervalMs: 1000, count: 2 });
  assert.equal([rows[1]!.sent, rows[1]!.received, rows[1]!.lost, rows[1]!.latP95, rows[1]!.jitter], [50, 0, 50, null, null]);
});

test('silences longer than the threshold are gaps, with the sequences lost inside them', () => {
  const { arrivals } = cbr(2, () => 5, (seq) => seq >= 30 && seq < 45);
  assert.equal(gaps(arrivals, 100), [{ start: T0 + 29 * 20 + 5, end: T0 + 45 * 20 + 5, gapMs: 320, lost: 15 }]);
  assert.equal(gaps(arrivals, 400), []);
});

test('TCP goodput per interval is bytes × 8 over the interval', () => {
  const batches = Array.from({ length: 20 }, (_, i) => ({ t: T0 + (i + 1) * 100 - 1, bytes: i < 10 ? 12_500 : 25_000, lateMs: 0 }));
  const rows = byteIntervals(batches, { t0: T0, intervalMs: 1000, count: 2 });
  assert.equal(rows.map((r) => r.goodputBps), [1e6, 2e6]);
});

test.run();

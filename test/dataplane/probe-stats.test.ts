/** Per-path measurements: RFC 6298 smoothing, RFC 3550 jitter, loss windows, percentiles, sequence anomalies. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PathStats, wilsonLower, seqDiff } from '../../dataplane/probe/index.ts';

const close = (a: number | undefined, b: number, eps = 1e-9) => assert.ok(a !== undefined && Math.abs(a - b) <= eps, `${a} ≉ ${b}`);

test('smooths RTT the RFC 6298 way: first sample sets srtt and rttvar = R/2, later ones use 1/8 and 1/4', () => {
  const s = new PathStats();
  s.reply(0, 100, 100);
  let m = s.metrics(100);
  close(m.srtt, 100); close(m.rttvar, 50); close(m.latency, 50);
  s.reply(1, 120, 200);
  m = s.metrics(200);
  close(m.rttvar, 0.75 * 50 + 0.25 * 20); close(m.srtt, 0.875 * 100 + 0.125 * 120);
});

test('estimates jitter with the RFC 3550 filter J += (|D| − J)/16', () => {
  const s = new PathStats();
  const rtts = [50, 70, 50, 70, 50];
  rtts.forEach((r, i) => s.reply(i, r, i * 10));
  let j = 0;
  for (let i = 1; i < rtts.length; i++) j += (Math.abs(rtts[i]! - rtts[i - 1]!) - j) / 16;
  close(s.metrics(100).jitter, j);
  // A constant delay has no jitter at all.
  const flat = new PathStats();
  for (let i = 0; i < 50; i++) flat.reply(i, 80, i);
  assert.is(flat.metrics(50).jitter, 0);
});

test('counts loss over the last N probes and over the last T ms separately', () => {
  const s = new PathStats({ countWindow: 10, timeWindowMs: 1000 });
  // 20 probes 100 ms apart: the first 5 lost, the rest answered.
  for (let i = 0; i < 20; i++) if (i < 5) s.loss(i, i * 100); else s.reply(i, 10, i * 100);
  const m = s.metrics(1900);
  assert.is(m.lossCount, 0, 'the last 10 probes were all answered');
  assert.is(m.lossTime, 0, 'nothing lost in (900, 1900]');
  const early = new PathStats({ countWindow: 10, timeWindowMs: 1000 });
  for (let i = 0; i < 10; i++) if (i < 5) early.loss(i, i * 100); else early.reply(i, 10, i * 100);
  close(early.metrics(900).lossCount, 0.5);
  close(early.metrics(900).lossTime, 0.5);
  close(early.metrics(1250).lossTime, 2 / 7, 1e-12); // (250, 1250]: probes 3, 4 lost; 5–9 answered
  assert.is(early.metrics(900).consecutiveReplies, 5);
});

test('reports RTT percentiles by nearest rank over the window', () => {
  const s = new PathStats({ percentileWindow: 100 });
  for (let i = 1; i <= 100; i++) s.reply(i, i, i); // RTTs 1..100 ms
  const m = s.metrics(100);
  assert.is(m.p50, 50); assert.is(m.p95, 95); assert.is(m.p99, 99);
  // The window slides: 100 more samples of 1000 ms push every small one out.
  for (let i = 101; i <= 200; i++) s.reply(i, 1000, i);
  assert.is(s.metrics(200).p50, 1000);
});

test('tells reordered, duplicate and late replies apart and counts consecutive misses', () => {
  const s = new PathStats();
  assert.is(s.reply(2, 10, 1), 'ok');
  assert.is(s.reply(1, 10, 2), 'reordered');
  assert.is(s.reply(2, 10, 3), 'duplicate');
  assert.ok(s.loss(3, 4)); assert.ok(s.loss(4, 5));
  assert.is(s.metrics(5).consecutiveMisses, 2);
  assert.is(s.reply(3, 900, 6), 'late', 'a reply after its timeout: slow, not lost');
  assert.not.ok(s.loss(2, 7), 'an answered probe cannot be lost afterwards');
  const m = s.metrics(7);
  assert.is(m.received, 2); assert.is(m.lost, 1); assert.is(m.reordered, 1); assert.is(m.duplicates, 1); assert.is(m.late, 1);
  assert.is(m.lossCount, 1 / 4, 'only seq 4 stays lost in the count window'); assert.is(m.lossTime, 1 / 4);
  assert.is(m.consecutiveMisses, 2, 'late and duplicate replies do not reset the miss count');
});

test('treats sequence numbers as serial numbers across the 32-bit wrap', () => {
  assert.ok(seqDiff(0, 0xffffffff) > 0);
  assert.ok(seqDiff(0xffffffff, 0) < 0);
  const s = new PathStats();
  s.reply(0xffffffff, 10, 1);
  assert.is(s.reply(0, 10, 2), 'ok', 'seq 0 after 2^32-1 is in order');
});

test('merges passive data-plane counters into the time-window loss', () => {
  const s = new PathStats({ timeWindowMs: 1000 });
  for (let i = 0; i < 10; i++) s.reply(i, 20, i * 100);
  s.loss(10, 950); // one probe lost out of 11: 9 %
  close(s.metrics(950).lossTime, 1 / 11, 1e-12);
  // 989 data packets received and 1 lost in the same second: the true loss is far lower than 1 probe suggests.
  s.passive({ at: 960, received: 989, lost: 1, reordered: 3 });
  const m = s.metrics(960);
  close(m.lossTime, 2 / 1001, 1e-12); // 10 + 989 received, 1 probe + 1 packet lost
  assert.is(m.lossSamples, 1001);
  assert.is(m.passiveReordered, 3);
  assert.is(m.lastPassiveTrafficAt, 960);
  close(m.lossCount, 1 / 11, 1e-12);
});

test('a late reply is taken out of the loss figures, resets the miss streak and feeds the RTT estimate', () => {
  const s = new PathStats({ fastWindowMs: 1000 });
  s.reply(0, 2, 2);
  assert.ok(s.loss(1, 60)); assert.ok(s.loss(2, 110));
  assert.is(s.reply(1, 302, 302), 'late');
  s.late(302, 302);
  const m = s.metrics(302);
  assert.is(m.lost, 1, 'seq 2 is still outstanding-as-lost; seq 1 was only slow');
  assert.is(m.lossTime, 1 / 3); assert.is(m.lossFast, 1 / 3); assert.is(m.lossCount, 1 / 3);
  assert.is(m.consecutiveMisses, 0);
  close(m.srtt, 0.875 * 2 + 0.125 * 302);
  assert.is(m.lastReplyAt, 302);
});

test('windowed jitter: mean, p50 and p95 of |ΔRTT| over the percentile window forget old spikes', () => {
  const s = new PathStats({ percentileWindow: 8 });
  [10, 50, 10, 10, 10, 10, 10, 10, 10, 10, 12, 10].forEach((r, i) => s.reply(i, r, i));
  const m = s.metrics(12);
  // The last 8 differences: 0,0,0,0,0,0,2,2 — the 40 ms spikes fell out of the window.
  close(m.jitterMean, 4 / 8); assert.is(m.jitterP50, 0); assert.is(m.jitterP95, 2);
  assert.ok(m.jitter > 2 * m.jitterMean!, `the RFC 3550 filter still remembers them (${m.jitter})`);
});

test('the fast loss window keeps only its last second, and the Wilson lower bound needs real evidence', () => {
  const s = new PathStats({ fastWindowMs: 1000 });
  s.passive({ at: 0, received: 100, lost: 0, reordered: 0 });
  s.passive({ at: 1500, received: 67, lost: 3, reordered: 0 });
  assert.equal(s.fastLoss(1500), { bad: 3, samples: 70 }, 'the sample at 0 fell out of the fast window');
  assert.is(s.metrics(1500).lossSamples, 170, 'but not out of the 10 s window');
  assert.ok(Math.abs(wilsonLower(3, 70) - 0.0147) < 0.001, `${wilsonLower(3, 70)}`);
  assert.ok(wilsonLower(1, 70) < 0.01, 'one loss in 70 proves nothing about a 1 % bound');
  assert.is(wilsonLower(0, 0), 0);
});

test.run();

/** Path state from probe outcomes, driven by simulated time: timeouts, down/up, hold-down, SLA, damping. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PathMonitor, monitorConfig, budgetIntervalMs, type PathEvent, type MonitorConfig } from '../../dataplane/probe/index.ts';

const VOICE = { name: 'voice', latencyMs: 150, jitterMs: 30, loss: 0.01 };

/**
 * Drive a monitor at 1 ms resolution: a probe every `interval` ms; `link(t)` gives the RTT of a probe sent
 * at t, or undefined when it is lost. Returns every event.
 */
function drive(mon: PathMonitor, from: number, to: number, link: (t: number) => number | undefined, state = { seq: 0, pending: [] as { at: number; seq: number; rtt: number }[] }) {
  const events: PathEvent[] = [];
  for (let t = from; t < to; t++) {
    for (const p of state.pending.filter((p) => p.at === t)) mon.reply(p.seq, p.rtt, t);
    state.pending = state.pending.filter((p) => p.at !== t);
    mon.tick(t);
    if (t % mon.cfg.intervalMs === 0) {
      const seq = state.seq++;
      mon.sent(seq, t);
      const rtt = link(t);
      if (rtt !== undefined) state.pending.push({ at: t + Math.round(rtt), seq, rtt: Math.round(rtt) });
    }
    events.push(...mon.drain());
  }
  return { events, state };
}
const stateEvents = (es: PathEvent[]) => es.filter((e) => e.kind === 'state');
const cfg = (p: Partial<MonitorConfig> = {}) => ({ ...monitorConfig({ adaptive: false, ...p }) });

test('the probe timeout is srtt + max(k × rttvar, srtt/4) within [floor, ceiling], a fixed initial value before any RTT', () => {
  const m = new PathMonitor(1, [], cfg({ timeoutFloorMs: 200, timeoutK: 3, initialTimeoutMs: 1000 }));
  assert.is(m.timeoutMs(), 1000);
  m.sent(0, 0); m.reply(0, 20, 20);
  assert.is(m.timeoutMs(), 200, '20 + 3 × 10 ms is below the floor');
  const sat = new PathMonitor(2, [], cfg());
  sat.sent(0, 0); sat.reply(0, 600, 600);
  assert.is(sat.timeoutMs(), 600 + 4 * 300, 'first sample: rttvar = RTT/2');
  for (let i = 1; i < 200; i++) { sat.sent(i, i * 100); sat.reply(i, 600, i * 100 + 600); }
  assert.ok(Math.abs(sat.timeoutMs() - 750) < 1, `a steady 600 ms path keeps srtt/4 of headroom (${sat.timeoutMs()})`);
  const capped = new PathMonitor(3, [], cfg({ timeoutCeilingMs: 1000 }));
  capped.sent(0, 0); capped.reply(0, 900, 900);
  assert.is(capped.timeoutMs(), 1000, 'the ceiling bounds it');
  const twin = new PathMonitor(4, [], cfg());
  for (let i = 0; i < 50; i++) { twin.sent(i, i * 50); twin.reply(i, 2, i * 50 + 2); }
  assert.is(twin.timeoutMs(), 50, 'a 2 ms path times out at the default 50 ms floor');
});

test('a 600 ms satellite path probed every 100 ms stays up; pinned at a 200 ms timeout it never comes up, though late replies are not counted lost', () => {
  const m = new PathMonitor(1, [], cfg({ intervalMs: 100 }));
  const { events } = drive(m, 0, 30_000, () => 600);
  assert.equal(stateEvents(events).map((e) => e.to), ['up']);
  assert.is(m.state, 'up');
  assert.is(m.metrics(30_000).lost, 0);
  assert.is(m.metrics(30_000).late, 0, 'the adaptive timeout fits the RTT');
  const fixed = new PathMonitor(2, [VOICE], cfg({ intervalMs: 100, timeoutFloorMs: 200, timeoutCeilingMs: 200, initialTimeoutMs: 200 }));
  const fe = drive(fixed, 0, 30_000, () => 600).events;
  const fm = fixed.metrics(30_000);
  assert.ok(fm.late >= 290 && fm.received === 0, `every reply came after the timeout (${fm.late} late)`);
  assert.ok(fm.lost <= 6, `but late is not lost: only the ones still in flight count (${fm.lost})`);
  assert.ok(Math.abs(fm.srtt! - 600) < 1, 'late replies still measure the RTT');
  assert.equal(stateEvents(fe).map((e) => e.to), [], 'the contrast: a timeout pinned under the RTT never lets the path come up');
});

test('a cut on a 2 ms path probed every 50 ms is declared down within 3 intervals + the 50 ms floor', () => {
  const downs: number[] = [];
  for (const cut of [5000, 5013, 5031, 5049]) {
    const m = new PathMonitor(1, [], cfg({ intervalMs: 50 }));
    const { events } = drive(m, 0, 7000, (t) => (t >= cut ? undefined : 2));
    const down = stateEvents(events).find((e) => e.to === 'down')!;
    assert.ok(down, 'went down');
    downs.push(down.at - cut);
    assert.match(down.cause, /timeout 50 ms/);
  }
  for (const d of downs) assert.ok(d > 100 && d <= 3 * 50 + 50, `declared down ${d} ms after the cut`);
});

test('a +150 ms each-way delay step is judged degraded, not down: a late reply revives the path at once', () => {
  const m = new PathMonitor(1, [VOICE], cfg({ intervalMs: 50, holdDownMs: 5000 }));
  const { events } = drive(m, 0, 12_000, (t) => (t >= 6000 ? 302 : 2));
  const s = stateEvents(events);
  // The two probes lost before the third miss may already break the 1 % loss bound (degraded first).
  const after = s.filter((e) => e.at >= 6000).map((e) => e.to);
  assert.equal(after.slice(-2), ['down', 'degraded'], `down only until the first delayed reply came back (${after})`);
  const back = s[s.length - 1]!;
  assert.match(back.cause, /late reply to probe \d+ \(RTT 302 ms > timeout 50 ms\): the RTT grew/);
  assert.ok(back.at <= 6000 + 50 + 302, `revived at ${back.at}`);
  assert.is(m.state, 'degraded');
  assert.ok(m.timeoutMs() > 302, `the timeout grew to fit (${m.timeoutMs()})`);
  assert.ok(!m.view(12_000).compliant.has('voice'), 'voice latency bound violated');
  assert.equal(s.filter((e) => e.at > back.at).length, 0, 'no further flap once the timeout fits');
});

test('with minOutageMs, 10 ms probes ride out a 100 ms burst but still declare a cut down after the minimum outage', () => {
  const burst = (t: number) => (t >= 5000 && t < 5100 ? undefined : 2);
  const plain = new PathMonitor(1, [], cfg({ intervalMs: 10 }));
  assert.equal(stateEvents(drive(plain, 0, 12_000, burst).events).map((e) => e.to), ['up', 'down', 'up'], 'without it the burst is an outage');
  const held = new PathMonitor(2, [], cfg({ intervalMs: 10, minOutageMs: 250 }));
  assert.equal(stateEvents(drive(held, 0, 8000, burst).events).map((e) => e.to), ['up']);
  const cut = new PathMonitor(3, [], cfg({ intervalMs: 10, minOutageMs: 250 }));
  const down = stateEvents(drive(cut, 0, 8000, (t) => (t >= 5000 ? undefined : 2)).events).find((e) => e.to === 'down')!;
  assert.ok(down.at >= 5000 + 250 && down.at <= 5000 + 250 + 10, `down at ${down.at}`);
  assert.match(down.cause, /outage \d+ ms ≥ 250 ms/);
});

test('declares a cut path down after N misses, within N × interval + timeout, with the cause', () => {
  const m = new PathMonitor(7, [], cfg({ intervalMs: 100, downAfter: 3, timeoutFloorMs: 200 }));
  const { events } = drive(m, 0, 10_000, (t) => (t >= 5000 ? undefined : 30));
  const down = stateEvents(events).find((e) => e.to === 'down')!;
  assert.ok(down, 'went down');
  assert.ok(down.at > 5000 && down.at <= 5000 + 3 * 100 + 200, `down at ${down.at}`);
  assert.ok(down.at >= 5000 + 2 * 100 + 200, 'not before the third miss');
  assert.is(down.path, 7);
  assert.match(down.cause, /3 consecutive probes unanswered \(timeout 200 ms\)/);
  assert.is(events.filter((e) => e.kind === 'sla').length, 0, 'no SLA classes configured, no SLA events');
});

test('keeps probing a down path and brings it back after M replies plus the hold-down', () => {
  const m = new PathMonitor(1, [], cfg({ intervalMs: 100, upAfter: 3, holdDownMs: 5000 }));
  const { events } = drive(m, 0, 30_000, (t) => (t >= 5000 && t < 8000 ? undefined : 30));
  const s = stateEvents(events);
  assert.equal(s.map((e) => e.to), ['up', 'down', 'up']);
  const up = s[2]!;
  assert.ok(up.at >= 8000 + 5000 && up.at <= 8000 + 5000 + 4 * 100 + 30, `back up at ${up.at}`);
  assert.match(up.cause, /hold-down/);
});

test('the failback hold-down restarts on any dip', () => {
  const m = new PathMonitor(1, [], cfg({ intervalMs: 100, holdDownMs: 5000 }));
  // Cut 5–8 s, then one lost probe at 11 s, in the middle of the hold-down.
  const { events } = drive(m, 0, 30_000, (t) => ((t >= 5000 && t < 8000) || t === 11_000 ? undefined : 30));
  const up = stateEvents(events).filter((e) => e.to === 'up')[1]!;
  assert.ok(up.at >= 11_000 + 5000, `the dip at 11 s restarted the hold-down (up at ${up.at})`);
});

test('degrades a path that violates an SLA class and recovers it only below bound × (1 − margin) after the hold-down', () => {
  // A generous timeout floor: this test is about latency, not about probes outliving their timeout.
  const m = new PathMonitor(1, [VOICE], cfg({ intervalMs: 100, holdDownMs: 3000, slaMargin: 0.1, timeoutFloorMs: 2000 }));
  // RTT 100 (50 ms one-way) → 340 (170 ms one-way, over 150) → 280 (140 ms: under the bound but not under 135) → 200.
  const rtt = (t: number) => (t < 10_000 ? 100 : t < 20_000 ? 340 : t < 30_000 ? 280 : 200);
  const { events } = drive(m, 0, 45_000, rtt);
  const s = stateEvents(events);
  assert.equal(s.map((e) => e.to), ['up', 'degraded', 'up']);
  assert.match(s[1]!.cause, /violates voice/);
  const sla = events.filter((e) => e.kind === 'sla' && e.class === 'voice');
  assert.match(sla.find((e) => e.to === 'violating')!.cause, /latency \d+\.\d ms > 150\.0/);
  assert.ok(s[2]!.at >= 30_000 + 3000, `no recovery while inside the hysteresis band (recovered at ${s[2]!.at})`);
  assert.ok(m.view(45_000).compliant.has('voice'));
});

test('damping suppresses the recovery of a flapping path until the penalty decays below reuse', () => {
  const damping = { enabled: true, flapPenalty: 1000, suppress: 2000, reuse: 750, halfLifeMs: 30_000, maxPenalty: 6000, degradePenalty: 0 };
  const m = new PathMonitor(1, [], cfg({ intervalMs: 100, holdDownMs: 1000, damping }));
  // Three cuts of 1 s, 3 s apart: penalties 1000, ~1900, ~2700 → suppressed after the third.
  const cut = (t: number) => [5000, 9000, 13_000].some((c) => t >= c && t < c + 1000);
  const { events } = drive(m, 0, 120_000, (t) => (cut(t) ? undefined : 30));
  const damp = events.filter((e) => e.kind === 'damping');
  assert.equal(damp.map((e) => e.to), ['suppressed', 'reusable']);
  const ups = stateEvents(events).filter((e) => e.to === 'up');
  assert.is(ups.length, 4, 'initial, after cut 1, after cut 2, and the third recovery only after reuse');
  const last = ups[3]!;
  assert.ok(last.at >= damp[1]!.at, 'up only once reusable');
  // Penalty at the third cut ≈ 2740; it falls to 750 after 30 s × log2(2740/750) ≈ 56 s.
  assert.ok(last.at > 13_300 + 50_000 && last.at < 13_300 + 62_000, `reused at ${last.at}`);
  const without = new PathMonitor(2, [], cfg({ intervalMs: 100, holdDownMs: 1000 }));
  const plain = drive(without, 0, 120_000, (t) => (cut(t) ? undefined : 30));
  assert.ok(stateEvents(plain.events).filter((e) => e.to === 'up')[3]!.at < 16_000, 'without damping it is back within the hold-down');
});

test('events carry time, path, kind, from, to and cause', () => {
  const m = new PathMonitor(3, [VOICE], cfg({ intervalMs: 100 }));
  const { events } = drive(m, 0, 2000, () => 40);
  assert.ok(events.length >= 2);
  for (const e of events) {
    assert.type(e.at, 'number'); assert.is(e.path, 3); assert.ok(['state', 'sla', 'damping'].includes(e.kind));
    assert.type(e.from, 'string'); assert.type(e.to, 'string'); assert.ok(e.cause.length > 0);
  }
});

test('probes slowly while up, idle and loss-free, and fast again on loss or data traffic', () => {
  const m = new PathMonitor(1, [], monitorConfig({ intervalMs: 20, idleIntervalMs: 1000, idleAfterMs: 5000 }));
  for (let i = 0; i < 5; i++) { m.sent(i, i * 20); m.reply(i, 10, i * 20 + 10); }
  assert.is(m.state, 'up');
  assert.is(m.nextIntervalMs(200), 1000, 'up and quiet');
  m.sent(5, 300); m.tick(300 + 1000);
  assert.is(m.nextIntervalMs(1300), 20, 'a loss brings the fast interval back');
  assert.is(m.nextIntervalMs(1300 + 5000), 1000, 'quiet again after idleAfter');
  m.passive({ at: 7000, received: 500, lost: 0, reordered: 0 });
  assert.is(m.nextIntervalMs(7001), 20, 'data traffic: probe fast');
  const fixed = new PathMonitor(2, [], monitorConfig({ intervalMs: 20, adaptive: false }));
  assert.is(fixed.nextIntervalMs(0), 20);
});

test('the probe budget stretches the interval when many paths share a transport', () => {
  assert.is(budgetIntervalMs(4, 64_000), 50, '4 × (72 + 8 + 20) bytes × 8 bit / 64 kbit/s');
  assert.is(budgetIntervalMs(1, 64_000, true), (120 * 8 * 1000) / 64_000, 'IPv6 headers are 20 bytes longer');
  assert.is(budgetIntervalMs(0, 64_000), 0);
});

test('judging jitter on the windowed mean rides out one RTT spike that the RFC 3550 filter turns into a violation', () => {
  const spike = (t: number) => (t === 5000 ? 400 : 10);
  const filter = new PathMonitor(1, [VOICE], cfg({ intervalMs: 100, timeoutFloorMs: 1000 }));
  const fe = drive(filter, 0, 8000, spike).events;
  assert.ok(fe.some((e) => e.kind === 'sla' && e.to === 'violating' && /jitter/.test(e.cause)), 'RFC 3550: 2 × 390 ms / 16 > 30 ms');
  const win = new PathMonitor(2, [VOICE], cfg({ intervalMs: 100, timeoutFloorMs: 1000, jitterFromWindow: true }));
  const we = drive(win, 0, 8000, spike).events;
  assert.not.ok(we.some((e) => e.kind === 'sla' && e.to === 'violating'), 'window mean: 780 ms / 79 pairs ≈ 10 ms');
  assert.is(win.state, 'up');
});

test.run();

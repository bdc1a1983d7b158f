// timeout: 30
// Trust judgement (scenarios/trust.ts), pure: the lateness histogram layout the agents and delay lines share
// decodes to bounds that hold the value, a run's share of cumulative readings (an agent restart included),
// percentiles from buckets, and one reason per overload sign beyond its limit. Plus the agent's own
// event-loop lag meter (dataplane/agent/loop-lag.ts) seeing a loop that was really blocked.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LoopLag, lateBucket, LATE_BUCKETS } from '../../dataplane/index.ts';
import { histDelta, histPercentileMs, histTotal, lateBucketUpperUs, overloadReasons, MIN_JUDGED_PACKETS, TrustSpec, type OverloadMeasures } from '../../scenarios/index.ts';

test('every lateness falls in a bucket whose bounds hold it, within a quarter of its size', () => {
  for (const us of [0, 1, 7, 8, 9, 10, 11, 12, 15, 16, 100, 999, 1000, 4095, 4096, 30_000, 123_456, 5e6, 2 ** 30]) {
    const b = lateBucket(us);
    const upper = lateBucketUpperUs(b), lower = b === 0 ? 0 : lateBucketUpperUs(b - 1);
    assert.ok(us >= lower && us < upper, `${us} µs in bucket ${b} [${lower}, ${upper})`);
    if (us >= 8) assert.ok(upper - lower <= us / 4 + 1e-9, `${us} µs: bucket width ${upper - lower}`);
  }
  // Buckets rise strictly, and an absurd lateness lands in the open-ended last one.
  for (let b = 1; b < LATE_BUCKETS; b++) assert.ok(lateBucketUpperUs(b) > lateBucketUpperUs(b - 1));
  assert.is(lateBucket(1e15), LATE_BUCKETS - 1);
});

test('a run\'s share is the last reading minus the first per key; a restarted agent counts from its own first reading', () => {
  const h = histDelta([
    { key: 'edge1/100', hist: [[3, 50]] },
    { key: 'edge1/100', hist: [[3, 80], [20, 2]] },
    { key: 'edge1/200', hist: [[3, 5]] }, // restarted: a new pid, counters from zero
    { key: 'edge1/200', hist: [[3, 25], [40, 1]] },
  ]);
  assert.is(h.length, LATE_BUCKETS);
  assert.is(h[3], 30 + 20);
  assert.is(h[20], 2);
  assert.is(h[40], 1);
  assert.is(histTotal(h), 53);
  assert.equal(histDelta([]), new Array(LATE_BUCKETS).fill(0));
});

test('percentiles come from the bucket holding the rank, as its upper bound in ms', () => {
  const h = new Array(LATE_BUCKETS).fill(0);
  h[lateBucket(50)] = 98; // 98 ticks about 50 µs late
  h[lateBucket(20_000)] = 2; // 2 ticks about 20 ms late
  assert.is(histPercentileMs(h, 50), lateBucketUpperUs(lateBucket(50)) / 1000);
  assert.is(histPercentileMs(h, 98), lateBucketUpperUs(lateBucket(50)) / 1000);
  assert.is(histPercentileMs(h, 99), lateBucketUpperUs(lateBucket(20_000)) / 1000);
  assert.ok(histPercentileMs(h, 99)! >= 20 && histPercentileMs(h, 99)! <= 25, String(histPercentileMs(h, 99)));
  assert.is(histPercentileMs(new Array(LATE_BUCKETS).fill(0), 99), null);
});

const calm: OverloadMeasures = {
  runQueuePerCpu: 1.5, senderLateP99Ms: 2, softnetDrops: 0, vethTxDrops: 0,
  agentLoopLagP99Ms: { edge1: 3, edge2: 4 }, delayLineLate: { 'edge1:wan0': { p99Ms: 0.2, packets: 5000 }, 'mpls:p1': { p99Ms: 1, packets: 2000 } },
};
const trust = TrustSpec.parse({});

test('a calm run has no reasons; each sign beyond its default limit gives one reason naming it', () => {
  assert.equal(overloadReasons(calm, trust), []);
  assert.equal(overloadReasons({ ...calm, agentLoopLagP99Ms: { edge1: 3, edge2: 81.92 } }, trust), ['edge2: agent event loop p99 81.92 ms late > 50 ms']);
  assert.equal(overloadReasons({ ...calm, agentLoopLagP99Ms: { edge1: null, edge2: 1 } }, trust), ['edge1: agent event-loop lag not measured (no status during the run)']);
  assert.equal(overloadReasons({ ...calm, delayLineLate: { ...calm.delayLineLate, 'mpls:p1': { p99Ms: 12.288, packets: 1981 } } }, trust),
    ['delay line mpls:p1 →: departures p99 12.288 ms late > 10 ms (1981 packets)']);
  assert.equal(overloadReasons({ ...calm, runQueuePerCpu: 4.5, senderLateP99Ms: 31, softnetDrops: 3, vethTxDrops: 1 }, trust), [
    'median run queue 4.50 per CPU > 4', "traffic senders' timers p99 31.0 ms late > 30 ms",
    '3 packets dropped for a full backlog (softnet) > 0', "1 tx drops on the lab's interfaces > 0"]);
});

test('limits come from the scenario\'s trust section; a direction with a handful of packets is not judged', () => {
  const strict = TrustSpec.parse({ maxAgentLoopLag: '2ms', maxDelayLineLate: '500us' });
  assert.equal(overloadReasons(calm, strict), [
    'edge1: agent event loop p99 3 ms late > 2 ms', 'edge2: agent event loop p99 4 ms late > 2 ms',
    'delay line mpls:p1 →: departures p99 1 ms late > 0.5 ms (2000 packets)']);
  const few = { ...calm, delayLineLate: { 'mpls:p1': { p99Ms: 500, packets: MIN_JUDGED_PACKETS - 1 } } };
  assert.equal(overloadReasons(few, trust), []);
});

test('probe results an agent dropped before the runner pulled them make the run invalid beyond maxProbeRowsDropped (default 0)', () => {
  assert.is(trust.maxProbeRowsDropped, 0);
  assert.equal(overloadReasons({ ...calm, probeRowsDropped: { edge1: 0, edge2: 0 } }, trust), []);
  assert.equal(overloadReasons({ ...calm, probeRowsDropped: { edge2: 17, edge1: 0 } }, trust),
    ['edge2: 17 probe results dropped before the runner pulled them > 0 (the probes table is incomplete)']);
  // Never pulled (null) is not judged here; an edge without status is already invalid through its loop lag.
  assert.equal(overloadReasons({ ...calm, probeRowsDropped: { edge1: null } }, trust), []);
  const lenient = TrustSpec.parse({ maxProbeRowsDropped: 20 });
  assert.equal(overloadReasons({ ...calm, probeRowsDropped: { edge1: 20, edge2: 21 } }, lenient),
    ['edge2: 21 probe results dropped before the runner pulled them > 20 (the probes table is incomplete)']);
  assert.not.ok(TrustSpec.safeParse({ maxProbeRowsDropped: -1 }).success);
});

test('the agent\'s loop-lag meter records a loop blocked for 80 ms', async () => {
  const lag = new LoopLag(10);
  lag.start();
  await new Promise((r) => setTimeout(r, 50));
  const end = performance.now() + 80;
  while (performance.now() < end) { /* block the loop */ }
  await new Promise((r) => setTimeout(r, 50));
  const st = lag.status();
  lag.stop();
  assert.ok(st.ticks >= 5, `ticks ${st.ticks}`);
  assert.ok(st.maxMs >= 60, `max ${st.maxMs} ms`);
  const counts = new Array(LATE_BUCKETS).fill(0);
  for (const [b, c] of st.hist) counts[b] = c;
  assert.is(histTotal(counts), st.ticks);
  assert.ok(histPercentileMs(counts, 100)! >= 60, 'the blocked tick is in the histogram');
});

test.run();

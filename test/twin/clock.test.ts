// timeout: 90
/**
 * Per-node clock skew: the skewed clock against a fake base clock, the lab's clock field, and an edge agent
 * started by the netns twin with an offset and drift reporting its skewed time in its status.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { agentRequest, skewedClock, clockFor, realClock, type Clock } from '../../dataplane/index.ts';
import { getProvider, parseLab } from '../../twin/index.ts';
import { isInputError } from '../../dataplane/index.ts';
import { runAgentCli } from '../../dataplane/agent/cli.ts';

/** A base clock a test moves by hand: wall time 1_700_000_000_000 ms, monotonic from 5000 ms. */
function fakeClock() {
  let wall = 1_700_000_000_000, mono = 5000;
  const c: Clock & { advance(ms: number): void; stepWall(ms: number): void } = {
    now: () => wall, monotonic: () => mono,
    advance(ms) { wall += ms; mono += ms; },
    stepWall(ms) { wall += ms; },
  };
  return c;
}

test('a skewed clock starts offset from its base and drifts by ppm of elapsed time', () => {
  const base = fakeClock();
  const c = skewedClock({ offsetMs: 150, driftPpm: 50 }, base);
  assert.is(c.now(), 1_700_000_000_150);
  base.advance(3_600_000);
  // 150 ms + 50 ppm of one hour = 150 + 180 ms ahead.
  assert.ok(Math.abs(c.now() - (1_700_003_600_000 + 330)) < 1e-6);
  assert.ok(Math.abs(c.monotonic() - (5000 + 3_600_000 * (1 + 50e-6))) < 1e-6);
});

test('a negative offset and drift run behind, and a step of the host wall clock does not leak in', () => {
  const base = fakeClock();
  const c = skewedClock({ offsetMs: -2000, driftPpm: -100 }, base);
  base.advance(10_000);
  base.stepWall(60_000);
  assert.ok(Math.abs(c.now() - (1_700_000_000_000 - 2000 + 10_000 * (1 - 100e-6))) < 1e-6);
});

test('without skew the real clock is used unchanged (a no-op on real edges)', () => {
  assert.is(clockFor({}), realClock);
  assert.is(clockFor({ offsetMs: 0, driftPpm: 0 }), realClock);
  assert.is.not(clockFor({ offsetMs: 1 }), realClock);
});

test('the lab clock field takes signed durations on edges and is refused elsewhere by key path', () => {
  const lab = (node: string) => `name: c\ntopology:\n  nodes:\n    e1: ${node}\n    h1: { kind: host }\n  links:\n    - endpoints: ["e1:lan0", "h1:eth0"]\n`;
  assert.equal(parseLab(lab('{ kind: edge, site: s1, clock: { offset: -1.5s, drift: 50 } }'), 'c.yaml').nodes.e1!.clock, { offsetMs: -1500, driftPpm: 50 });
  assert.is(parseLab(lab('{ kind: edge, site: s1 }'), 'c.yaml').nodes.e1!.clock, undefined);
  const msg = (text: string) => { try { parseLab(text, 'labs/c.yaml'); } catch (e) { if (isInputError(e)) return e.message; throw e; } return 'no error'; };
  assert.match(msg(lab('{ kind: host, clock: { offset: 5ms } }')), /labs\/c\.yaml.*topology\.nodes\.e1\.clock.*only edge nodes/s);
  assert.match(msg(lab('{ kind: edge, site: s1, clock: { offset: soon } }')), /topology\.nodes\.e1\.clock\.offset.*expected a duration/s);
});

test('the agent refuses a clock option that is not a number with exit 2', async () => {
  assert.is(await runAgentCli(['--node', 'x', '--state-dir', '/nonexistent', '--clock-offset', 'soon']), 2);
});

const p = getProvider('netns');
const name = `tclk${process.pid}`;
test.after(async () => { await p.destroy(name); });

test('an edge started with an offset and drift reports the skewed time in its status; another without does not', async () => {
  await p.deploy(parseLab(`name: ${name}
topology:
  nodes:
    e1: { kind: edge, site: s1, clock: { offset: 3600s, drift: 100 } }
    e2: { kind: edge, site: s2 }
  links:
    - endpoints: ["e1:wan0", "e2:wan0"]
`, 'clock.yaml'));
  const st = async (node: string) => {
    const t0 = Date.now();
    const body = (await agentRequest(p.agentSocket(name, node), 'GET', '/status')).body;
    return { body, host: (t0 + Date.now()) / 2 };
  };
  const a = await st('e1');
  assert.equal(a.body.clock.skew, { offsetMs: 3_600_000, driftPpm: 100 });
  const ahead = a.body.clock.nowMs - a.host;
  // An hour ahead, within the request's round trip and the drift accrued since start (a few seconds at most).
  assert.ok(Math.abs(ahead - 3_600_000) < 1000, `e1 is ${ahead} ms ahead`);
  assert.is(Date.parse(a.body.clock.now), Math.floor(a.body.clock.nowMs));
  assert.ok(Date.parse(a.body.startedAt) - a.host > 3_590_000, 'the start time is read from the skewed clock too');
  const b = await st('e2');
  assert.is(b.body.clock.skew, null);
  assert.ok(Math.abs(b.body.clock.nowMs - b.host) < 1000);
});

test.run();

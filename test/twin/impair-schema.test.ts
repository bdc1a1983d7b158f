import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseLab, planLab, parseNsName } from '../../twin/index.ts';
import { parseTrace, impairRequests, expectedLoss, meanBurst, scheduleStates } from '../../twin/impair/index.ts';

const lab = (links: string, top = '') => `name: s1\n${top}topology:\n  nodes:\n    a: { kind: host }\n    b: { kind: host }\n  links:\n${links}`;
const fails = (text: string) => { try { parseLab(text, 'x.yaml'); } catch (e) { return (e as Error).message; } throw new Error('expected an error'); };

test('short forms still parse and loss models, buffer depth and impairable normalise', () => {
  const l = parseLab(lab(`    - endpoints: ["a:e0", "b:e0"]
      impair: { delay: 20ms, loss: { model: gilbert-elliott, p: 1%, r: 25% }, rate: 20mbit, buffer: 64kb }
    - endpoints: ["a:e1", "b:e1"]
      impairable: true
    - endpoints: ["a:e2", "b:e2"]
      impair: { loss: 1%, buffer: 30ms }
    - endpoints: ["a:e3", "b:e3"]
`, 'seed: 9\n'), 'x.yaml');
  assert.is(l.seed, 9);
  assert.equal(l.links[0]!.endpoints[0].impair, { delay: 20, loss: { model: 'gilbert-elliott', p: 0.01, r: 0.25, lossGood: 0, lossBad: 1 }, rate: 20e6, buffer: { bytes: 64000 } });
  assert.equal(l.links[2]!.endpoints[1].impair, { loss: 0.01, buffer: { ms: 30 } });
  assert.equal(l.links.map((x) => x.impairable), [true, true, true, false]);
});

test('an impairable link plans a hidden link namespace with a veth from each side', () => {
  const plans = planLab(parseLab(lab(`    - endpoints: ["a:e0", "b:e0"]\n      impairable: true\n`), 'x.yaml'));
  const hidden = plans.find((p) => p.node === '_l0')!;
  assert.is(hidden.ns, 'pt.s1._l0');
  assert.match(plans.find((p) => p.node === 'a')!.links[0]!, 'peer name e0 mtu 1500 netns pt.s1._l0');
  assert.match(plans.find((p) => p.node === 'b')!.links[0]!, 'peer name e1 mtu 1500 netns pt.s1._l0');
  assert.equal(parseNsName('pt.s1._l0'), { lab: 's1', node: '_l0', internal: true });
  assert.equal(parseNsName('pt.s1.a'), { lab: 's1', node: 'a' });
});

test('bad impairment input names the key path and what was expected', () => {
  assert.match(fails(lab(`    - endpoints: ["a:e0", "b:e0"]\n      impair: { buffer: 3 parsecs }\n`)), 'topology.links[0].impair.buffer: expected a buffer depth as a size like "64kb" or a duration like "50ms"');
  assert.match(fails(lab(`    - endpoints: ["a:e0", "b:e0"]\n      impair: { loss: { model: gilbert-elliott, p: 1% } }\n`)), 'topology.links[0].impair.loss');
  assert.match(fails(lab(`    - endpoints: ["a:e0", "b:e0"]\n      impair: { trace: /nonexistent/t.csv }\n`)), 'x.yaml: topology.links[0].impair.trace: cannot read trace file /nonexistent/t.csv');
});

test('a trace parses with or without a header and bad rows name file, line and column', () => {
  assert.equal(parseTrace('time,loss,delay\n1s,1%,20ms\n0,0,10\n', 't.csv'), [{ at: 0, loss: 0, delay: 10 }, { at: 1000, loss: 0.01, delay: 20 }]);
  assert.equal(parseTrace('# recorded\n0,20ms,0.5%\n', 't.csv'), [{ at: 0, delay: 20, loss: 0.005 }]);
  try { parseTrace('time,delay,loss\n0,20ms,150%\n', 't.csv'); assert.unreachable(); } catch (e) {
    assert.match((e as Error).message, 't.csv:2: ["line 2"].loss: expected a percentage like "1%" or a fraction 0..1, got "150%"');
  }
});

test('schedules become full states and delay-line requests', () => {
  assert.equal(scheduleStates({ delay: 20 }, [{ at: 5000, delay: 80 }, { at: 0, loss: 0.01 }]), [{ at: 0, delay: 20, loss: 0.01 }, { at: 5000, delay: 80, loss: 0.01 }]);
  assert.equal(impairRequests(1, { delay: 20, rate: 1e6, schedule: { repeat: 10_000, steps: [{ at: 0, loss: 0.5 }] } }), [
    'sched-clear dir=1',
    'set dir=1 delay_ns=20000000 jitter_ns=0 loss=none down=0 rate_bps=1000000 buffer_bytes=6250',
    'sched-add dir=1 at_ns=0 delay_ns=20000000 jitter_ns=0 loss=uniform:0.5 down=0 rate_bps=1000000 buffer_bytes=6250',
    'sched-start period_ns=10000000000',
  ]);
});

test('expected loss and burst statistics follow the models', () => {
  assert.ok(Math.abs(expectedLoss({ model: 'gilbert-elliott', p: 0.01, r: 0.25, lossGood: 0, lossBad: 1 }) - 0.01 / 0.26) < 1e-12);
  assert.is(meanBurst([false, true, true, false, true, false]), 1.5);
  assert.is(meanBurst([false, false]), 0);
});

test.run();

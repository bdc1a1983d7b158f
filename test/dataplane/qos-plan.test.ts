// timeout: 30
/**
 * The pure half of dataplane/agent/qos.ts: the HTB plan a bundle gives (rates, priorities, the application
 * class → HTB class table) and the parser of `tc -s class show`. The twin test (test/labs/qos-two-site)
 * runs the real shaper.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Bundle } from '../../dataplane/bundle/schema.ts';
import { classid, parseHtbClasses, planQos, tcClassCommands } from '../../dataplane/agent/qos.ts';
import { edge1Bundle } from './bundle-fixture.ts';

function shapedBundle(): Bundle {
  const b = structuredClone(edge1Bundle());
  b.interfaces.wan[0]!.shape = { rateBps: 20e6 };
  b.qosClasses = [
    { name: 'bulk', id: 1, priority: false, weight: 3, classIds: [0] },
    { name: 'voice', id: 2, priority: true, weight: 1, classIds: [5] },
    { name: 'web', id: 3, priority: false, weight: 6, classIds: [3, 5] },
  ];
  return Bundle.parse(b);
}

test('only interfaces with a shape get a tree; the classes share the committed rate', () => {
  const plan = planQos(shapedBundle());
  assert.equal(plan.devices.map((d) => d.device), ['wan0']);
  const c = Object.fromEntries(plan.devices[0]!.classes.map((x) => [x.name, x]));
  assert.is(c.parent!.rateBps, 20e6);
  assert.is(c.control!.rateBps, 400e3); // 2 % of 20 Mbit/s
  assert.is(c.voice!.rateBps, 6e6); // priority classes share 30 %
  // The rest (13.6 Mbit/s) by weight: default 1, bulk 3, web 6.
  assert.is(c.default!.rateBps, 1.36e6);
  assert.is(c.bulk!.rateBps, 4.08e6);
  assert.is(c.web!.rateBps, 8.16e6);
  const leaves = plan.devices[0]!.classes.filter((x) => x.name !== 'parent');
  assert.ok(leaves.reduce((s, x) => s + x.rateBps, 0) <= 20e6, 'guaranteed rates fit in the parent');
  assert.ok(leaves.every((x) => x.ceilBps === 20e6), 'every class may borrow up to the committed rate');
  assert.equal(leaves.map((x) => [x.name, x.prio]), [['control', 0], ['default', 1], ['voice', 0], ['bulk', 1], ['web', 1]]);
  assert.is(c.web!.quantum, 2 * c.bulk!.quantum, 'quantum in proportion to weight');
  assert.ok(c.voice!.limit < c.bulk!.limit, 'real-time leaves keep a short queue');
});

test('the class table maps application class ids to HTB classids; the first QoS class naming an id keeps it', () => {
  const plan = planQos(shapedBundle());
  assert.equal([...plan.classMap].sort((a, b) => a[0] - b[0]), [[0, classid(0x11)], [3, classid(0x13)], [5, classid(0x12)]]);
  assert.is(plan.controlClassid, 0x10002);
});

test('a bundle without shapes plans nothing', () => {
  const b = structuredClone(edge1Bundle());
  assert.equal(planQos(Bundle.parse(b)).devices, []);
});

test('the tc commands replace classes and leaves (idempotent), minors in hex', () => {
  const cmds = tcClassCommands(planQos(shapedBundle()).devices[0]!).map((a) => a.join(' '));
  assert.ok(cmds[0]!.startsWith('class replace dev wan0 parent 1: classid 1:1 htb rate 20000000bit ceil 20000000bit'), cmds[0]);
  assert.ok(cmds.includes('qdisc replace dev wan0 parent 1:12 handle 12: bfifo limit 50000'), cmds.join('\n'));
  assert.ok(cmds.every((c) => c.includes(' replace ')));
});

test('tc -s class show output is parsed into per-class counters', () => {
  const text = `class htb 1:1 root rate 10Mbit ceil 10Mbit burst 3026b cburst 3026b 
 Sent 12345 bytes 67 pkt (dropped 0, overlimits 4 requeues 0) 
 backlog 0b 0p requeues 0
 lended: 0 borrowed: 0 giants: 0
 tokens: 37843 ctokens: 37843

class htb 1:11 parent 1:1 leaf 11: prio 1 rate 6181Kbit ceil 10Mbit burst 3026b cburst 3026b 
 Sent 9000000 bytes 6000 pkt (dropped 12, overlimits 345 requeues 0) 
 backlog 3028b 2p requeues 0
`;
  assert.equal(parseHtbClasses(text), [
    { classid: '1:1', prio: 0, rateBps: 10e6, ceilBps: 10e6, bytes: 12345, packets: 67, drops: 0, overlimits: 4, backlogBytes: 0, backlogPackets: 0 },
    { classid: '1:11', prio: 1, rateBps: 6181e3, ceilBps: 10e6, bytes: 9e6, packets: 6000, drops: 12, overlimits: 345, backlogBytes: 3028, backlogPackets: 2 },
  ]);
});

test.run();

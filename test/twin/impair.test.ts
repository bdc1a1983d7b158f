// timeout: 300
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { getProvider, parseLab, type NetnsProvider } from '../../twin/index.ts';
import { DelayLine, delaysMs, lossPattern, meanBurst, median, percentile, probe, rxRateBps } from '../../twin/impair/index.ts';
import { delayLineSocket } from '../../twin/providers/netns/names.ts';

const p = getProvider('netns') as NetnsProvider;
const name = `ti${process.pid}`;
// IPv6 off on the hosts: nothing but our probes may cross the lines, so loss patterns are comparable.
const lab = parseLab(`name: ${name}
seed: 42
topology:
  defaults: { sysctls: { net.ipv6.conf.all.disable_ipv6: 1, net.ipv6.conf.default.disable_ipv6: 1 } }
  nodes:
    a: { kind: host }
    b: { kind: host }
  links:
    - endpoints: [{ node: a, interface: eth0, ipv4: 10.77.0.1/24 }, { node: b, interface: eth0, ipv4: 10.77.0.2/24 }]
      impair: { delay: 20ms }
    - endpoints: ["a:eth1", "b:eth1"]
      impairable: true
    - endpoints: ["a:eth2", "b:eth2"]
`, 'impair.yaml');

const ns = () => execFileSync('ip', ['netns', 'list']).toString().split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`pt.${name}.`)).sort();
const linePids = () => ns().filter((n) => n.includes('._l')).flatMap((n) => execFileSync('ip', ['netns', 'pids', n]).toString().split(/\s+/).filter(Boolean).map(Number));
const line0 = () => new DelayLine(delayLineSocket(name, 0));
let pids: number[] = [];

test.after(async () => { await p.destroy(name); });

test('an impaired or impairable link gets a hidden link namespace with a delay line; a plain link does not', async () => {
  await p.deploy(lab);
  assert.equal(ns(), [`pt.${name}._l0`, `pt.${name}._l1`, `pt.${name}.a`, `pt.${name}.b`]);
  pids = linePids();
  assert.is(pids.length, 2);
  for (const pid of pids) assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), 'pt-delayline');
  assert.equal((await p.inspect(name)).nodes.map((n) => n.name).sort(), ['a', 'b']);
  assert.ok((await p.exec(name, 'a', ['ping', '-c1', '-W2', '10.77.0.2'])).code === 0, 'traffic crosses the delay line');
});

test('a 20 ms one-way delay measures 20 ms ± 1 ms (median) in each direction', async () => {
  for (const [from, to] of [['a:eth0', 'b:eth0'], ['b:eth0', 'a:eth0']] as const) {
    const r = await probe(name, from, to, { count: 1000, intervalUs: 1000 });
    const m = median(delaysMs(r));
    console.log(`  ${from} -> ${to}: median ${m.toFixed(3)} ms, p99 ${percentile(delaysMs(r), 99).toFixed(3)} ms, ${r.received.length}/${r.sent}`);
    assert.ok(Math.abs(m - 20) <= 1, `median ${m}`);
    assert.is(r.received.length, 1000);
  }
});

test('jitter spreads delays but keeps packets in order', async () => {
  await p.setImpairment(name, 'a:eth0', { delay: 20, jitter: 10 });
  const r = await probe(name, 'a:eth0', 'b:eth0', { count: 800, intervalUs: 2500 });
  const d = delaysMs(r);
  const seqs = r.received.map((x) => x.seq);
  assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!), 'arrival order is send order');
  const spread = percentile(d, 90) - percentile(d, 10);
  console.log(`  jitter 10 ms: median ${median(d).toFixed(2)} ms, p10..p90 spread ${spread.toFixed(2)} ms`);
  assert.ok(spread > 4, `spread ${spread}`);
  assert.ok(median(d) > 12 && median(d) < 31, `median ${median(d)}`);
});

test('5% uniform loss over 10k packets loses 4–6%', async () => {
  await p.setImpairment(name, 'a:eth0', { loss: 0.05 });
  const r = await probe(name, 'a:eth0', 'b:eth0', { count: 10_000, intervalUs: 100 });
  const loss = 1 - r.received.length / r.sent;
  console.log(`  uniform 5%: ${(loss * 100).toFixed(2)}% lost, mean burst ${meanBurst(lossPattern(r, 10_000)).toFixed(2)}`);
  assert.is(r.sent, 10_000);
  assert.ok(loss >= 0.04 && loss <= 0.06, `loss ${loss}`);
});

test('Gilbert–Elliott loss comes in bursts longer than uniform loss of the same rate', async () => {
  await p.setImpairment(name, 'a:eth0', { loss: { model: 'gilbert-elliott', p: 0.01, r: 0.25, lossGood: 0, lossBad: 1 } });
  const ge = await probe(name, 'a:eth0', 'b:eth0', { count: 10_000, intervalUs: 100 });
  const geLoss = 1 - ge.received.length / ge.sent;
  await p.setImpairment(name, 'a:eth0', { loss: geLoss });
  const un = await probe(name, 'a:eth0', 'b:eth0', { count: 10_000, intervalUs: 100 });
  const bGe = meanBurst(lossPattern(ge, 10_000)), bUn = meanBurst(lossPattern(un, 10_000));
  console.log(`  GE p=1% r=25%: ${(geLoss * 100).toFixed(2)}% lost (expected 3.85%), mean burst ${bGe.toFixed(2)} (expected 4); uniform: ${bUn.toFixed(2)}`);
  assert.ok(geLoss > 0.02 && geLoss < 0.06, `GE loss ${geLoss}`);
  assert.ok(bGe > 2.5 && bGe > 2 * bUn, `bursts GE ${bGe} vs uniform ${bUn}`);
});

test('the same seed reproduces the same loss pattern, another seed does not', async () => {
  await p.setImpairment(name, 'a:eth0', { loss: { model: 'gilbert-elliott', p: 0.02, r: 0.3, lossGood: 0.01, lossBad: 0.9 } });
  const run = async (seed: number) => { await line0().seed(seed, 0); return lossPattern(await probe(name, 'a:eth0', 'b:eth0', { count: 3000, intervalUs: 200 }), 3000); };
  const a = await run(7), b = await run(7), c = await run(8);
  const diff = (x: boolean[], y: boolean[]) => x.filter((v, i) => v !== y[i]).length;
  console.log(`  seed 7 twice: ${diff(a, b)} differing of 3000 (${a.filter(Boolean).length} lost); seed 8: ${diff(a, c)} differing`);
  assert.ok(a.some(Boolean), 'something was lost');
  assert.equal(a, b);
  assert.ok(diff(a, c) > 10);
});

test('a 20 Mbit/s rate holds within ±5% for a UDP flow (iperf3) and for raw frames', async () => {
  await p.setImpairment(name, 'a:eth0', { delay: 5, rate: 20e6, buffer: { ms: 50 } });
  const q = execFileSync('tc', ['-n', `pt.${name}._l0`, '-j', 'qdisc', 'show', 'dev', 'e1']).toString();
  assert.match(q, '"kind":"tbf"');
  const srv = p.exec(name, 'b', ['iperf3', '-s', '-1', '-J', '-p', '5299'], { timeoutMs: 20_000 });
  await new Promise((r) => setTimeout(r, 300));
  const cli = await p.exec(name, 'a', ['iperf3', '-c', '10.77.0.2', '-p', '5299', '-u', '-b', '30M', '-l', '1472', '-t', '3', '-J'], { timeoutMs: 20_000 });
  assert.is(cli.code, 0, cli.stderr);
  await srv;
  const goodput = (JSON.parse(cli.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second;
  const expected = 20e6 * 1472 / 1514; // UDP payload of a 1514-byte frame
  const raw = rxRateBps(await probe(name, 'a:eth0', 'b:eth0', { count: 4000, intervalUs: 400, size: 1500 }));
  console.log(`  iperf3 UDP goodput ${(goodput / 1e6).toFixed(3)} Mbit/s (expected ${(expected / 1e6).toFixed(3)}), raw L2 ${(raw / 1e6).toFixed(3)} Mbit/s (expected 20)`);
  assert.ok(Math.abs(goodput / expected - 1) <= 0.05, `goodput ${goodput}`);
  assert.ok(Math.abs(raw / 20e6 - 1) <= 0.05, `raw ${raw}`);
});

test('a runtime change takes effect, on an impairable link too, and a schedule steps through its states', async () => {
  await p.setImpairment(name, 'a:eth1', { delay: 30 });
  const m1 = median(delaysMs(await probe(name, 'a:eth1', 'b:eth1', { count: 300, intervalUs: 1000 })));
  assert.ok(Math.abs(m1 - 30) <= 1, `impairable link median ${m1}`);
  const back = median(delaysMs(await probe(name, 'b:eth1', 'a:eth1', { count: 300, intervalUs: 1000 })));
  assert.ok(back < 1, `the other direction stays unimpaired (${back})`);
  await p.setImpairment(name, 'a:eth1', { schedule: { steps: [{ at: 0, delay: 10 }, { at: 1500, delay: 60 }] } });
  const r = await probe(name, 'a:eth1', 'b:eth1', { count: 300, intervalUs: 10_000 });
  const early = r.received.filter((x) => x.seq < 100).map((x) => (x.rxNs - x.txNs) / 1e6);
  const late = r.received.filter((x) => x.seq >= 200).map((x) => (x.rxNs - x.txNs) / 1e6);
  console.log(`  schedule: first second ${median(early).toFixed(2)} ms, after 2 s ${median(late).toFixed(2)} ms`);
  assert.ok(Math.abs(median(early) - 10) <= 1 && Math.abs(median(late) - 60) <= 1);
});

test('removing an impairment restores a clean link and its rate qdisc', async () => {
  await p.setImpairment(name, 'a:eth0', null);
  const m = median(delaysMs(await probe(name, 'a:eth0', 'b:eth0', { count: 300, intervalUs: 1000 })));
  assert.ok(m < 1, `median ${m}`);
  assert.not.match(execFileSync('tc', ['-n', `pt.${name}._l0`, 'qdisc', 'show', 'dev', 'e1']).toString(), 'tbf');
  const st = await line0().stats();
  assert.is(st.dirs[0].delay_ns, 0);
  assert.is(st.dirs[1].delay_ns, 20e6, 'the other direction keeps its impairment');
});

test('destroy removes the link namespaces and stops the delay lines', async () => {
  const r = await p.destroy(name);
  assert.is(r.namespaces.length, 4);
  assert.equal(ns(), []);
  for (const pid of pids) assert.not.ok(existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'), `delay line ${pid} is gone`);
  assert.not.ok(existsSync(`/run/patronus/${name}`));
});

test.run();

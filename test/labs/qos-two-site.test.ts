// timeout: 240
// WAN QoS on labs/qos-two-site: MPLS is shaped to its committed 10 Mbit/s by an HTB tree whose classes the
// cls_bpf classifier picks from the overlay class byte. While a bulk TCP flow (iperf3) saturates the MPLS
// path, pings in the voice class (a strict-priority QoS class) keep their idle latency; with the voice rule
// moved to the weighted best-effort class (same lab, same load, only that line changed) the latency rises
// with the bulk queue. Judged on medians with generous bounds. Run under `flock /tmp/pt-heavy.lock`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentRequest } from '../../dataplane/index.ts';
import { getProvider, NetnsProvider, nsName } from '../../twin/index.ts';
import { bringUp, prepareLab, pushBundles } from '../../controller/cli/twin.ts';

const p = getProvider('netns') as NetnsProvider;
const lab = `qs${process.pid}`;
const LAB_FILE = 'labs/qos-two-site/lab.yaml';
const quiet = { write: () => true } as unknown as NodeJS.WritableStream;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const status = async (node: string) => (await agentRequest(p.agentSocket(lab, node), 'GET', '/status')).body;
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const tmp = mkdtempSync('/tmp/pt-qos-');

test.before(async () => { await bringUp(p, prepareLab(LAB_FILE, { name: lab }), { out: quiet }); });
test.after(async () => { await p.destroy(lab); rmSync(tmp, { recursive: true, force: true }); });

/** RTTs (ms) of `count` pings host1 → host2, 50 ms apart. */
async function pingRtts(count: number): Promise<number[]> {
  const r = await p.exec(lab, 'host1', ['ping', '-n', '-c', String(count), '-i', '0.05', '-W', '2', '10.2.0.10'], { timeoutMs: 60_000 });
  return [...r.stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
}

/** Median ping RTT while iperf3 pushes bulk TCP host1 → host2 for 10 s, and the bulk rate received. */
async function underLoad(): Promise<{ rtt: number; rtts: number[]; bulkMbps: number }> {
  const srv = spawn('ip', ['netns', 'exec', nsName(lab, 'host2'), 'iperf3', '-s', '-1', '-B', '10.2.0.10'], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 50; i++) {
      if (/:5201\b/.test((await p.exec(lab, 'host2', ['ss', '-ltn'])).stdout)) break;
      await sleep(100);
    }
    const client = p.exec(lab, 'host1', ['iperf3', '-c', '10.2.0.10', '-t', '10', '-J', '--connect-timeout', '3000'], { timeoutMs: 60_000 });
    await sleep(3000); // the queue fills within a second or two of slow start
    const rtts = await pingRtts(80);
    const r = await client;
    const j = JSON.parse(r.stdout || '{}');
    assert.is(j.error, undefined, r.stderr);
    return { rtt: median(rtts), rtts, bulkMbps: j.end.sum_received.bits_per_second / 1e6 };
  } finally {
    srv.kill('SIGKILL');
  }
}

const wan0 = (st: any) => st.qos.devices.find((d: any) => d.device === 'wan0');
const cls = (st: any, name: string) => wan0(st).classes.find((c: any) => c.name === name);

test('the MPLS interface carries the HTB tree at its committed rate; the unshaped internet interface none', async () => {
  for (const node of ['edge1', 'edge2']) {
    const st = await status(node);
    assert.is(st.lastError, null);
    assert.equal(st.qos.devices.map((d: any) => d.device), ['wan0']);
    const d = wan0(st);
    assert.ok(d.installed, `${node}: HTB root installed`);
    assert.is(d.rateBps, 10e6);
    assert.equal(d.classes.map((c: any) => c.name).sort(), ['best-effort', 'control', 'default', 'parent', 'realtime']);
    assert.is(cls(st, 'parent').rateBps, 10e6);
    assert.is(cls(st, 'realtime').prio, 0);
    assert.is(cls(st, 'best-effort').prio, 1);
    const q = (await p.exec(lab, node, ['tc', 'qdisc', 'show', 'dev', 'wan1'])).stdout;
    assert.not.match(q, /htb/, `${node} wan1: ${q}`);
    const f = (await p.exec(lab, node, ['tc', 'filter', 'show', 'dev', 'wan0', 'parent', '1:'])).stdout;
    assert.match(f, /pt_wan_qos/, `${node} wan0 filter: ${f}`);
  }
});

let idle = 0;
let prioLoaded = 0;

test('voice pings keep their idle latency while bulk TCP saturates the shaped MPLS path (priority class)', async () => {
  const mpls = (await status('edge1')).paths.find((x: any) => x.transport === 'mpls').id;
  // Both classes on MPLS (the internet path may have come up first; failback waits for its hold-down).
  for (let i = 0; i < 300; i++) {
    const s = (await status('edge1')).steering;
    if (['default', 'voip'].every((a) => s.find((r: any) => r.appClass === a)?.pathIds[0] === mpls)) break;
    await sleep(100);
  }
  idle = median(await pingRtts(40));
  const before = await status('edge1');
  const r = await underLoad();
  const after = await status('edge1');
  prioLoaded = r.rtt;
  console.log(`  idle median ${idle} ms; under bulk, voice in the priority class: median ${r.rtt} ms; bulk ${r.bulkMbps.toFixed(2)} Mbit/s`);
  // The shaper is the bottleneck: bulk gets about the committed rate, not the veth's gigabits.
  assert.ok(r.bulkMbps > 5 && r.bulkMbps < 11, `bulk ${r.bulkMbps} Mbit/s through a 10 Mbit/s shaper`);
  // The classes did the work: pings counted in realtime, the bulk bytes and its overlimits in best-effort.
  const d = (name: string, k: string) => cls(after, name)[k] - cls(before, name)[k];
  assert.ok(d('realtime', 'packets') >= 70, `realtime class sent ${d('realtime', 'packets')} packets`);
  assert.ok(d('best-effort', 'bytes') > 5e6, `best-effort class sent ${d('best-effort', 'bytes')} bytes`);
  assert.ok(d('best-effort', 'overlimits') > 0, 'best-effort hit the rate (the link was saturated)');
  assert.ok(r.rtt <= idle + 5, `voice median ${r.rtt} ms vs idle ${idle} ms (${r.rtts.join(' ')})`);
});

test('with the voice rule in the weighted class instead, the same load raises its latency clearly', async () => {
  const text = readFileSync('labs/qos-two-site/intent.yaml', 'utf8');
  const changed = text.replace(/(- name: voice\n\s+app: voip\n\s+)qos: realtime/, '$1qos: best-effort');
  assert.is.not(changed, text, 'the voice rule was rewritten');
  writeFileSync(join(tmp, 'intent.yaml'), changed);
  const prepared = prepareLab(LAB_FILE, { name: lab, intent: join(tmp, 'intent.yaml') });
  await pushBundles(p, lab, prepared.bundles);
  const st = await status('edge1');
  assert.equal(wan0(st).classes.map((c: any) => c.name).sort(), ['best-effort', 'control', 'default', 'parent'], 'the realtime class is gone');
  assert.equal(st.qos.classMap, { 0: '1:11', 1: '1:11' });
  const r = await underLoad();
  console.log(`  under bulk, voice in the weighted class: median ${r.rtt} ms (idle ${idle} ms, priority ${prioLoaded} ms)`);
  assert.ok(r.rtt >= idle + 15 && r.rtt >= 3 * prioLoaded, `voice median ${r.rtt} ms vs idle ${idle} ms, priority ${prioLoaded} ms`);
});

test('a bundle that no longer shapes removes the HTB tree', async () => {
  const text = readFileSync('labs/qos-two-site/intent.yaml', 'utf8');
  const changed = text.replace(/\n\s+bandwidth: \{ up: 10mbit, down: 10mbit \}/, '');
  assert.is.not(changed, text);
  writeFileSync(join(tmp, 'intent.yaml'), changed);
  await pushBundles(p, lab, prepareLab(LAB_FILE, { name: lab, intent: join(tmp, 'intent.yaml') }).bundles);
  const st = await status('edge1');
  assert.equal(st.qos.devices, []);
  const q = (await p.exec(lab, 'edge1', ['tc', 'qdisc', 'show', 'dev', 'wan0'])).stdout;
  assert.not.match(q, /htb/, q);
  assert.is((await pingRtts(5)).length, 5, 'traffic still flows unshaped');
});

test.run();

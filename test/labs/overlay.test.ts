// timeout: 180
// The overlay data plane on labs/two-site-dual-wan: TCP through the tunnels, and forwarding that survives
// the agent being killed and restarted mid-flow (programs stay attached, maps stay pinned).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { agentRequest } from '../../dataplane/index.ts';
import { getProvider, NetnsProvider, nsName } from '../../twin/index.ts';
import { bringUp, prepareLab } from '../../controller/cli/twin.ts';

const p = getProvider('netns') as NetnsProvider;
const lab = `ov${process.pid}`;
const quiet = { write: () => true } as unknown as NodeJS.WritableStream;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const status = async (node: string) => (await agentRequest(p.agentSocket(lab, node), 'GET', '/status')).body;
const txBytes = (st: any, path: number) => st.overlay.counters.filter((c: any) => c.path === path && c.dir === 'tx').reduce((n: number, c: any) => n + c.bytes, 0);

test.before(async () => { await bringUp(p, prepareLab('labs/two-site-dual-wan/lab.yaml', { name: lab }), { out: quiet }); });
test.after(async () => { await p.destroy(lab); });

test('bulk TCP between the sites crosses the overlay (iperf3, counters on the MPLS path)', async () => {
  const mpls = (await status('edge1')).paths.find((x: any) => x.transport === 'mpls').id;
  // If the internet path came up first, steering fails back to MPLS only after its hold-down.
  for (let i = 0; i < 300 && (await status('edge1')).steering.find((r: any) => r.appClass === 'default')?.pathIds[0] !== mpls; i++) await sleep(100);
  const before = txBytes(await status('edge1'), mpls);
  const srv = spawn('ip', ['netns', 'exec', nsName(lab, 'host2'), 'iperf3', '-s', '-1', '-B', '10.2.0.10'], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 50; i++) {
      if (/:5201\b/.test((await p.exec(lab, 'host2', ['ss', '-ltn'])).stdout)) break;
      await sleep(100);
    }
    const r = await p.exec(lab, 'host1', ['iperf3', '-c', '10.2.0.10', '-n', '20M', '-J', '--connect-timeout', '3000'], { timeoutMs: 60_000 });
    const j = JSON.parse(r.stdout || '{}');
    assert.is(j.error, undefined, r.stderr);
    assert.ok(j.end.sum_received.bytes >= 1e6, `received ${j.end.sum_received.bytes} bytes`);
    console.log(`  iperf3 through the tc overlay: ${(j.end.sum_received.bits_per_second / 1e6).toFixed(0)} Mbit/s`);
  } finally {
    srv.kill('SIGKILL');
  }
  // 20 MiB of payload (GSO super-packets on the tc path, so bytes rather than packets); the counter is read
  // when iperf3 reports, which may be before the last segments were counted: most of it, not all.
  const sent = txBytes(await status('edge1'), mpls) - before;
  assert.ok(sent >= 0.9 * 20 * 1024 * 1024, `${sent} bytes encapsulated on the MPLS path`);
});

test("killing and restarting edge1's agent mid-ping loses no packet", async () => {
  // 100 pings 50 ms apart (5 s); the agent is SIGKILLed after 1 s and started again.
  const ping = p.exec(lab, 'host1', ['ping', '-c', '100', '-i', '0.05', '-W', '1', '10.2.0.10'], { timeoutMs: 30_000 });
  await sleep(1000);
  const oldPid = (await status('edge1')).pid;
  await p.restartAgent(lab, 'edge1', 'SIGKILL');
  const st = await status('edge1');
  assert.is.not(st.pid, oldPid);
  assert.is(st.bundle.source, 'last-good');
  const r = await ping;
  assert.match(r.stdout, /100 packets transmitted, 100 received/);
});

test.run();

// timeout: 120
// Lab labs/bird-frr-ebgp: BIRD and FRR as real routers in the twin, peering with each other.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { getProvider, loadLab } from '../../twin/index.ts';

const p = getProvider('netns');
const lab = `bf${process.pid}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sessions = async () => Object.fromEntries((await p.inspect(lab)).nodes.filter((n) => n.router).map((n) => [n.name, n.router!.sessions.map((s) => s.state)]));
const ping = async () => (await p.exec(lab, 'h1', ['ping', '-c1', '-W1', '10.12.0.10'])).code === 0;

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms (sessions ${JSON.stringify(await sessions())})`);
    await sleep(100);
  }
  return Date.now() - t0;
}

test.after(async () => { await p.destroy(lab); });

test('BIRD and FRR establish eBGP and hosts behind them reach each other over BGP routes', async () => {
  await p.deploy(loadLab('labs/bird-frr-ebgp/lab.yaml', { rename: lab }));
  await waitFor('sessions established', async () => JSON.stringify(await sessions()) === JSON.stringify({ r1: ['Established'], r2: ['Established'] }), 20_000);
  await waitFor('h1 reaches h2', ping, 10_000);
  assert.match((await p.exec(lab, 'r1', ['ip', 'route', 'show', '10.12.0.0/24'])).stdout, /via 10\.255\.0\.2 dev eth1 proto bird/);
  assert.match((await p.exec(lab, 'r2', ['ip', 'route', 'show', '10.11.0.0/24'])).stdout, /via 10\.255\.0\.1 dev eth1 proto bgp/);
});

test('a cut between the routers takes the sessions down on hold-timer expiry and withdraws the routes', async () => {
  await p.setLinkState(lab, 'r1:eth1', 'down');
  // Hold time is 3 s; allow generous slack for a loaded machine.
  const ms = await waitFor('sessions down', async () => { const s = await sessions(); return s.r1![0] !== 'Established' && s.r2![0] !== 'Established'; }, 15_000);
  console.log(`  sessions down ${ms} ms after the cut`);
  await waitFor('route withdrawn from r1', async () => (await p.exec(lab, 'r1', ['ip', 'route', 'show', '10.12.0.0/24'])).stdout.trim() === '', 5_000);
  await waitFor('route withdrawn from r2', async () => (await p.exec(lab, 'r2', ['ip', 'route', 'show', '10.11.0.0/24'])).stdout.trim() === '', 5_000);
  assert.not.ok(await ping());
});

test('restoring the link re-establishes both sessions and traffic', async () => {
  await p.setLinkState(lab, 'r1:eth1', 'up');
  await waitFor('sessions re-established', async () => JSON.stringify(await sessions()) === JSON.stringify({ r1: ['Established'], r2: ['Established'] }), 30_000);
  await waitFor('h1 reaches h2 again', ping, 10_000);
});

test('destroy stops both daemons and leaves no namespace', async () => {
  const pids = (await p.inspect(lab)).nodes.flatMap((n) => n.processes.map((x) => x.pid));
  assert.ok(pids.length >= 3, 'bird, zebra and bgpd were running');
  await p.destroy(lab);
  const left = execFileSync('ip', ['netns', 'list']).toString().split('\n').filter((l) => l.startsWith(`pt.${lab}.`));
  assert.equal(left, []);
  // A daemon that exited may linger as a zombie until its reaper runs; that counts as gone.
  const alive = (pid: number) => { try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; } };
  for (const pid of pids) assert.not.ok(alive(pid), `process ${pid} is gone`);
});

test.run();

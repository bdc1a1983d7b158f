// timeout: 150
/**
 * The mininet provider: a lab brought up by `patronus twin up --provider mininet` in a child process (so the
 * sandbox must outlive its deployer), pings across a routed cloud and a bridge cloud, rate shaping, a cut,
 * the sandbox's private /tmp, and `twin down` leaving no process and no state behind.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentRequest } from '../../dataplane/index.ts';
import { getProvider, loadLab, MininetProvider, UnsupportedError, parseLab, type LabStatus } from '../../twin/index.ts';

const p = getProvider('mininet') as MininetProvider;
const name = `tmn${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'pt-mn-'));
const labFile = join(dir, 'lab.yaml');
writeFileSync(labFile, `name: ${name}
topology:
  nodes:
    h1: { kind: host, gateway: 100.64.0.1 }
    h2: { kind: host, gateway: 100.64.0.5 }
    e1: { kind: edge, site: s1, clock: { offset: 250ms } }
    inet: { kind: wan, wan: { mode: routed, subnet: 100.64.0.0/24 } }
    lan: { kind: wan, wan: { mode: bridge, subnet: 192.168.77.0/24 } }
  links:
    - endpoints: ["h1:eth0", "inet:p1"]
      impair: { rate: 10mbit }
    - endpoints: ["h2:eth0", "inet:p2"]
    - endpoints: ["h2:eth1", "lan:p1"]
    - endpoints: ["e1:lan0", "lan:p2"]
`);
const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', 'twin', ...args], { encoding: 'utf8', timeout: 90_000 });
const ping = async (from: string, to: string) => (await p.exec(name, from, ['ping', '-c1', '-W1', to])).code === 0;
const sandboxPids = () => {
  const st = JSON.parse(readFileSync(`/run/patronus/${name}/mininet.json`, 'utf8')) as { bridgePid: number; unsharePid: number };
  return [st.bridgePid, st.unsharePid];
};
let pids: number[] = [];

test.after(async () => {
  await p.destroy(name);
  await p.destroy(`${name}b`);
  await p.destroy(`${name}k`);
  rmSync(dir, { recursive: true, force: true });
});

test('twin up --provider mininet deploys in a sandbox that outlives the CLI process', () => {
  const r = cli('up', labFile, '--no-intent', '--provider', 'mininet');
  assert.is(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, new RegExp(`lab ${name} \\(mininet, up\\)`));
  pids = sandboxPids();
  assert.ok(pids.every((pid) => existsSync(`/proc/${pid}`)), 'bridge and unshare are still running');
});

test('hosts reach each other across the routed cloud and the bridge cloud', async () => {
  assert.ok(await ping('h1', '100.64.0.6'), 'h1 → h2 through inet');
  assert.ok(await ping('e1', '192.168.77.1'), 'e1 → h2 through lan');
  assert.not.ok(await ping('h1', '192.168.77.2'), 'no route from h1 into lan');
});

test('the edge agent runs inside mininet with its skewed clock', async () => {
  const st = (await agentRequest(p.agentSocket(name, 'e1'), 'GET', '/status')).body;
  assert.is(st.node, 'e1');
  assert.equal(st.clock.skew, { offsetMs: 250, driftPpm: 0 });
});

test('a rate on a link end is an HTB shaper on that interface; setImpairment changes and clears it', async () => {
  assert.match((await p.exec(name, 'h1', ['tc', 'class', 'show', 'dev', 'eth0'])).stdout, /htb .*rate 10Mbit/);
  assert.not.match((await p.exec(name, 'h2', ['tc', 'class', 'show', 'dev', 'eth0'])).stdout, /htb/);
  await p.setImpairment(name, 'h2:eth0', { rate: 5e6 });
  assert.match((await p.exec(name, 'h2', ['tc', 'class', 'show', 'dev', 'eth0'])).stdout, /htb .*rate 5Mbit/);
  await p.setImpairment(name, 'h2:eth0', null);
  assert.not.match((await p.exec(name, 'h2', ['tc', 'class', 'show', 'dev', 'eth0'])).stdout, /htb/);
  try { await p.setImpairment(name, 'h2:eth0', { delay: 20 }); assert.unreachable(); } catch (e) { assert.instance(e, UnsupportedError); }
});

test('twin link cuts and restores a link from another process', async () => {
  const down = cli('link', name, 'h2:eth0', 'down');
  assert.is(down.status, 0, down.stderr);
  assert.not.ok(await ping('h1', '100.64.0.6'));
  assert.is(cli('link', name, 'h2:eth0', 'up').status, 0);
  let ok = false;
  for (let i = 0; i < 10 && !ok; i++) ok = await ping('h1', '100.64.0.6');
  assert.ok(ok);
});

test("the sandbox's /tmp is private: a file made there is not in the host's /tmp", async () => {
  const probe = `pt-mn-probe-${process.pid}`;
  assert.is((await p.exec(name, 'h1', ['touch', `/tmp/${probe}`])).code, 0);
  assert.is((await p.exec(name, 'h2', ['ls', `/tmp/${probe}`])).code, 0, 'the sandbox sees it');
  assert.not.ok(existsSync(`/tmp/${probe}`));
});

test('twin status finds the mininet lab and reports addresses per node', () => {
  const r = cli('status', name, '--json');
  assert.is(r.status, 0, r.stderr);
  const [s] = JSON.parse(r.stdout) as LabStatus[];
  assert.is(s!.provider, 'mininet');
  assert.equal(s!.nodes.find((n) => n.name === 'h2')!.interfaces.map((i) => i.addresses[0]).sort(), ['100.64.0.6/30', '192.168.77.1/24']);
});

test('a second deploy is refused and an unsupported impairment is refused before anything starts', async () => {
  try { await p.deploy(parseLab(readFileSync(labFile, 'utf8'), 'lab.yaml')); assert.unreachable(); } catch (e) { assert.match((e as Error).message, 'already deployed'); }
  const other = `${name}x`;
  try {
    await p.deploy(parseLab(`name: ${other}\ntopology:\n  nodes:\n    a: { kind: host }\n    b: { kind: host }\n  links:\n    - endpoints: ["a:eth0", "b:eth0"]\n      impair: { delay: 10ms }\n`, 'x.yaml'));
    assert.unreachable();
  } catch (e) { assert.instance(e, UnsupportedError); assert.match((e as Error).message, '--provider netns'); }
  assert.not.ok(existsSync(`/run/patronus/${other}`));
});

test('router nodes run BIRD and FRR inside mininet: the eBGP session comes up and carries the hosts\' routes', async () => {
  const bgp = `${name}b`;
  try {
    await p.deploy(loadLab('labs/bird-frr-ebgp/lab.yaml', { rename: bgp }));
    let sessions: string[] = [];
    for (let i = 0; i < 40 && !(sessions.length === 2 && sessions.every((x) => x === 'Established')); i++) {
      await new Promise((r) => setTimeout(r, 250));
      sessions = (await p.inspect(bgp)).nodes.flatMap((n) => n.router?.sessions.map((x) => x.state) ?? []);
    }
    assert.equal(sessions, ['Established', 'Established']);
    let ok = false;
    for (let i = 0; i < 20 && !ok; i++) ok = (await p.exec(bgp, 'h1', ['ping', '-c1', '-W1', '10.12.0.10'])).code === 0;
    assert.ok(ok, 'h1 reaches h2 over the BGP-learned route');
  } finally {
    await p.destroy(bgp);
  }
  assert.not.ok(existsSync(`/run/patronus/${bgp}`));
});

test('after the deployer is SIGKILLed mid-deploy, the sandbox is found stale and destroy removes it', async () => {
  const lab = `${name}k`;
  const script = `
    import { getProvider, parseLab } from './twin/index.ts';
    const text = ${JSON.stringify(`name: ${lab}\ntopology:\n  nodes:\n    a: { kind: host }\n    b: { kind: host }\n  links:\n    - endpoints: ["a:eth0", "b:eth0"]\n`)};
    await getProvider('mininet').deploy(parseLab(text, 'k.yaml'), { progress: (x) => { if (x.step === 'routes') process.kill(process.pid, 'SIGKILL'); } });
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  try {
    assert.is(r.signal, 'SIGKILL', r.stderr);
    const st = JSON.parse(readFileSync(`/run/patronus/${lab}/mininet.json`, 'utf8')) as { state: string; bridgePid: number; unsharePid: number };
    assert.is(st.state, 'deploying');
    assert.ok(existsSync(`/proc/${st.bridgePid}`), 'the sandbox outlived its deployer');
    assert.ok((await p.stale()).includes(lab));
    assert.not.ok((await p.stale()).includes(name), 'a healthy lab is not stale');
    assert.is((await p.inspect(lab)).state, 'partial');
    await p.destroy(lab);
    assert.not.ok(existsSync(`/proc/${st.bridgePid}`) && !readFileSync(`/proc/${st.bridgePid}/stat`, 'utf8').includes(') Z'));
    assert.not.ok(existsSync(`/run/patronus/${lab}`));
  } finally {
    await p.destroy(lab);
  }
});

test('twin down stops the sandbox: no process left, no state, no agent', () => {
  const r = cli('down', name);
  assert.is(r.status, 0, r.stderr);
  for (const pid of pids) assert.not.ok(existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z'), `pid ${pid} is gone`);
  assert.not.ok(existsSync(`/run/patronus/${name}`));
  const leftovers = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
    try { return readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(`/run/patronus/${name}/`); } catch { return false; }
  });
  assert.equal(leftovers, [], 'no process refers to the lab');
});

test.run();

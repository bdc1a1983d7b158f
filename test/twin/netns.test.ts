// timeout: 120
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { getProvider, parseLab, nsName, LabExistsError, NotFoundError, NetnsProvider } from '../../twin/index.ts';

const p = getProvider('netns') as NetnsProvider;
const name = `tn${process.pid}`;
const labText = (n: string) => `name: ${n}
topology:
  nodes:
    a: { kind: host, gateway: 100.64.0.1 }
    b: { kind: host, gateway: 100.64.0.5 }
    c: { kind: host }
    inet: { kind: wan, wan: { mode: routed, subnet: 100.64.0.0/24 } }
    lan: { kind: wan, wan: { mode: bridge, subnet: 192.168.77.0/24 } }
  links:
    - endpoints: ["a:eth0", "inet:p1"]
    - endpoints: ["b:eth0", "inet:p2"]
    - endpoints: ["a:eth1", "lan:p1"]
      srlg: [conduit-7]
    - endpoints: ["c:eth1", "lan:p2"]
      srlg: [conduit-7, pole-3]
`;

async function namespacesOf(lab: string): Promise<string[]> {
  const { execFileSync } = await import('node:child_process');
  return execFileSync('ip', ['netns', 'list']).toString().split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(`pt.${lab}.`));
}

const ping = async (lab: string, from: string, to: string) => (await p.exec(lab, from, ['ping', '-c1', '-W1', to])).code === 0;

test.after(async () => { await p.destroy(name); await p.destroy(`${name}k`); });

test('deploys a lab: namespaces per node, routed and bridged clouds forward', async () => {
  const progress: string[] = [];
  await p.deploy(parseLab(labText(name), 'lab.yaml'), { progress: (x) => progress.push(x.step) });
  assert.equal((await namespacesOf(name)).sort(), ['a', 'b', 'c', 'inet', 'lan'].map((n) => nsName(name, n)));
  assert.ok(progress.length >= 5, 'progress is reported');
  assert.ok(await ping(name, 'a', '100.64.0.6'), 'a reaches b through the routed cloud');
  assert.ok(await ping(name, 'c', '192.168.77.1'), 'c reaches a through the bridge cloud');
  const st = await p.inspect(name);
  assert.is(st.state, 'up');
  assert.equal(st.nodes.find((n) => n.name === 'b')!.interfaces, [{ name: 'eth0', state: 'UP', addresses: ['100.64.0.6/30'] }]);
});

test('interface names that read like ip keywords still work', async () => {
  const odd = `${name}o`;
  try {
    await p.deploy(parseLab(`name: ${odd}\ntopology:\n  nodes:\n    x: { kind: host }\n    y: { kind: host }\n  links:\n    - endpoints: [{ node: x, interface: up, ipv4: 10.9.0.1/30 }, { node: y, interface: l, ipv4: 10.9.0.2/30 }]\n`, 'odd.yaml'));
    assert.ok(await ping(odd, 'x', '10.9.0.2'));
  } finally {
    await p.destroy(odd);
  }
});

test('a second deploy of the same lab is refused', async () => {
  try { await p.deploy(parseLab(labText(name), 'lab.yaml')); assert.unreachable(); } catch (e) { assert.instance(e, LabExistsError); }
});

test('cutting a link stops traffic and restoring it brings it back', async () => {
  await p.setLinkState(name, 'b:eth0', 'down');
  assert.not.ok(await ping(name, 'a', '100.64.0.6'));
  await p.setLinkState(name, 'b:eth0', 'up');
  let ok = false;
  for (let i = 0; i < 20 && !ok; i++) ok = await ping(name, 'a', '100.64.0.6');
  assert.ok(ok);
});

test('a shared-risk group names its links, and cutting them all stops traffic across them', async () => {
  assert.equal(await p.srlgLinks!(name, 'conduit-7'), ['a:eth1', 'c:eth1']);
  assert.equal(await p.srlgLinks!(name, 'pole-3'), ['c:eth1']);
  try { await p.srlgLinks!(name, 'nope'); assert.unreachable(); } catch (e) { assert.match((e as Error).message, 'no link in shared-risk group "nope" (groups: conduit-7, pole-3)'); }
  for (const e of await p.srlgLinks!(name, 'conduit-7')) await p.setLinkState(name, e, 'down');
  assert.not.ok(await ping(name, 'c', '192.168.77.1'));
  assert.ok(await ping(name, 'a', '100.64.0.6'), 'links outside the group still carry traffic');
  for (const e of await p.srlgLinks!(name, 'conduit-7')) await p.setLinkState(name, e, 'up');
  let ok = false;
  for (let i = 0; i < 20 && !ok; i++) ok = await ping(name, 'c', '192.168.77.1');
  assert.ok(ok);
});

test('a rate impairment installs a token bucket on the endpoint', async () => {
  await p.setImpairment(name, 'a:eth0', { rate: 10e6 });
  const q = await p.exec(name, 'a', ['tc', 'qdisc', 'show', 'dev', 'eth0']);
  assert.match(q.stdout, /tbf .*rate 10Mbit/);
  await p.setImpairment(name, 'a:eth0', null);
  assert.not.match((await p.exec(name, 'a', ['tc', 'qdisc', 'show', 'dev', 'eth0'])).stdout, /tbf/);
});

test('unknown nodes and interfaces are named in the error', async () => {
  try { await p.exec(name, 'zz', ['true']); assert.unreachable(); } catch (e) { assert.instance(e, NotFoundError); assert.match((e as Error).message, 'node "zz"'); }
  try { await p.setLinkState(name, 'a:eth9', 'down'); assert.unreachable(); } catch (e) { assert.instance(e, NotFoundError); assert.match((e as Error).message, 'interface "eth9"'); }
});

test('destroy removes every namespace and the state, and nothing of other labs', async () => {
  const r = await p.destroy(name);
  assert.is(r.namespaces.length, 5);
  assert.equal(await namespacesOf(name), []);
  assert.not.ok(existsSync(`/run/patronus/${name}`));
});

test('after the deployer is SIGKILLed mid-deploy, the lab is found stale and removed with its processes', async () => {
  const lab = `${name}k`;
  // A child deploys a lab with an edge agent (a process in the namespace) and kills itself with SIGKILL
  // at its last progress step, leaving a "deploying" record, namespaces and a running agent behind.
  const script = `
    import { getProvider, parseLab } from './twin/index.ts';
    const text = ${JSON.stringify(`name: ${lab}\ntopology:\n  nodes:\n    e1: { kind: edge, site: s1 }\n    h1: { kind: host }\n  links:\n    - endpoints: ["e1:lan0", "h1:eth0"]\n`)};
    await getProvider('netns').deploy(parseLab(text, 'k.yaml'), { progress: (x) => { if (x.done === x.total) process.kill(process.pid, 'SIGKILL'); } });
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'inherit' });
  const sig = await new Promise((r) => child.on('exit', (_c, s) => r(s)));
  assert.is(sig, 'SIGKILL');
  assert.is((await namespacesOf(lab)).length, 2);
  const agentPid = Number((await p.inspect(lab)).nodes.find((n) => n.name === 'e1')!.processes[0]?.pid);
  assert.ok(agentPid > 0 && existsSync(`/proc/${agentPid}`), 'the agent outlived its deployer');
  assert.ok((await p.stale()).includes(lab));
  assert.not.ok((await p.stale()).includes(name));
  const r = await p.destroy(lab);
  assert.is(r.processes, 1);
  assert.equal(await namespacesOf(lab), []);
  assert.not.ok(existsSync(`/proc/${agentPid}`) && !readFileSync(`/proc/${agentPid}/stat`, 'utf8').includes(') Z'), 'agent is gone');
});

test.run();

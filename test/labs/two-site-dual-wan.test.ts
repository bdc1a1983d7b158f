// timeout: 120
// Lab labs/two-site-dual-wan, driven through the CLI as a user would: up with its intent, status, a
// cross-site ping, down, and nothing left behind.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const lab = `ts${process.pid}`;
const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/patronus.js', ...args], { encoding: 'utf8', timeout: 60_000 });
const namespaces = () => execFileSync('ip', ['netns', 'list']).toString().split('\n').filter((l) => l.startsWith(`pt.${lab}.`));

test.after(() => { cli('twin', 'down', lab); });

test('twin up deploys the lab with progress, applies bundles and prints the status table', () => {
  const r = cli('twin', 'up', 'labs/two-site-dual-wan/lab.yaml', '--name', lab);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /\[11\/11\] /);
  assert.match(r.stderr, /bundles applied on 2 edges/);
  assert.match(r.stdout, new RegExp(`lab ${lab} \\(netns, up\\)`));
  // Interfaces are listed in creation order, which parallel batches do not fix.
  const row = r.stdout.split('\n').find((l) => /^edge1 +edge /.test(l)) ?? '';
  assert.match(row, /^edge1 +edge +pt\.\S+\.edge1 +1 +/);
  for (const i of ['wan0 172.16.0.1/24', 'wan1 100.64.0.2/30', 'lan0 10.1.0.1/24']) assert.ok(row.includes(i), `${i} in: ${row}`);
  assert.match(row, /bundle [0-9a-f]{12} site s1/);
  assert.is(namespaces().length, 6);
});

test('hosts behind the two edges reach each other across the sites', () => {
  const r = cli('twin', 'exec', lab, 'host1', '--', 'ping', '-c', '3', '-i', '0.2', '-W', '2', '10.2.0.10');
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /3 packets transmitted, 3 received/);
  const route = cli('twin', 'exec', lab, 'edge1', '--', 'ip', 'route', 'get', '10.2.0.10');
  assert.match(route.stdout, /via 172\.16\.0\.2 dev wan0/);
});

const edge1 = () => JSON.parse(cli('twin', 'status', lab, '--json').stdout)[0].nodes.find((n: { name: string }) => n.name === 'edge1').agent;
const sent = (agent: any, path: number) => agent.overlay.counters.filter((c: any) => c.path === path && c.dir === 'tx').reduce((n: number, c: any) => n + c.packets, 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('cross-site traffic rides the overlay on the preferred MPLS path', async () => {
  let a = edge1();
  assert.is(a.overlay.datapath, 'tc');
  assert.equal(a.overlay.attached, ['lan0', 'wan0', 'wan1']);
  const mpls = a.paths.find((p: any) => p.transport === 'mpls').id;
  // If the internet path came up first, steering fails back to MPLS only after its hold-down.
  for (let i = 0; i < 300 && a.steering.find((r: any) => r.appClass === 'default')?.pathIds[0] !== mpls; i++) { await sleep(100); a = edge1(); }
  assert.equal(a.steering.find((r: any) => r.appClass === 'default').pathIds, [mpls]);
  const before = sent(a, mpls);
  assert.is(cli('twin', 'exec', lab, 'host1', '--', 'ping', '-c', '5', '-i', '0.2', '-W', '2', '10.2.0.10').status, 0);
  assert.ok(sent(edge1(), mpls) >= before + 5, 'five more packets encapsulated on the MPLS path');
});

test('when the MPLS provider fails inside its cloud, traffic fails over to the internet path through the overlay', async () => {
  assert.is(cli('twin', 'link', lab, 'mpls:p2', 'down').status, 0);
  try {
    let a = edge1();
    for (let i = 0; i < 100 && a.paths.find((p: any) => p.transport === 'mpls').state !== 'down'; i++) { await sleep(100); a = edge1(); }
    const inet = a.paths.find((p: any) => p.transport === 'inet').id;
    assert.equal(a.steering.find((r: any) => r.appClass === 'default').pathIds, [inet]);
    const before = sent(a, inet);
    // The internet cloud routes only the edges' /30s: the hosts' prefixes can cross it only encapsulated.
    const r = cli('twin', 'exec', lab, 'host1', '--', 'ping', '-c', '5', '-i', '0.2', '-W', '2', '10.2.0.10');
    assert.match(r.stdout, /5 packets transmitted, 5 received/);
    assert.ok(sent(edge1(), inet) >= before + 5, 'the packets went out on the internet path');
  } finally {
    cli('twin', 'link', lab, 'mpls:p2', 'up');
  }
});

test('twin status reports every node present and both agents holding their bundles', () => {
  const r = cli('twin', 'status', lab, '--json');
  assert.is(r.status, 0);
  const [st] = JSON.parse(r.stdout);
  assert.is(st.state, 'up');
  assert.equal(st.nodes.map((n: { name: string; present: boolean }) => [n.name, n.present]).sort(), [
    ['edge1', true], ['edge2', true], ['host1', true], ['host2', true], ['inet', true], ['mpls', true]]);
  for (const e of st.nodes.filter((n: { kind: string }) => n.kind === 'edge')) {
    assert.match(e.agent.bundle.hash, /^[0-9a-f]{64}$/);
    assert.is(e.agent.lastError, null);
  }
});

test('twin down removes every namespace, process and state file of the lab', () => {
  const r = cli('twin', 'down', lab);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`${lab}: removed 6 namespaces, stopped 2 processes`));
  assert.equal(namespaces(), []);
  assert.not.ok(existsSync(`/run/patronus/${lab}`));
});

test.run();

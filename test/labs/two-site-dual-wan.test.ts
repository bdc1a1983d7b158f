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
  assert.match(r.stdout, /edge1 +edge +pt\.\S+\.edge1 +1 +wan0 172\.16\.0\.1\/24; wan1 100\.64\.0\.2\/30; lan0 10\.1\.0\.1\/24 +bundle [0-9a-f]{12} site s1/);
  assert.is(namespaces().length, 6);
});

test('hosts behind the two edges reach each other across the sites', () => {
  const r = cli('twin', 'exec', lab, 'host1', '--', 'ping', '-c', '3', '-i', '0.2', '-W', '2', '10.2.0.10');
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /3 packets transmitted, 3 received/);
  const route = cli('twin', 'exec', lab, 'edge1', '--', 'ip', 'route', 'get', '10.2.0.10');
  assert.match(route.stdout, /via 172\.16\.0\.2 dev wan0/);
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

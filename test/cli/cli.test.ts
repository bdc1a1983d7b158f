// timeout: 60
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/patronus.js', ...args], { encoding: 'utf8', timeout: 30_000 });
const dir = mkdtempSync(join(tmpdir(), 'patronus-cli-'));
const ourNamespaces = () => execFileSync('ip', ['netns', 'list']).toString().split('\n').filter((l) => l.startsWith(`pt.bad${process.pid}`));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('an unknown command exits 2 and lists the known ones', () => {
  const r = cli('frobnicate');
  assert.is(r.status, 2);
  // Commands register themselves as their modules load; the first ones are fixed, later ones are appended.
  assert.match(r.stderr, /unknown command "frobnicate" \(known: twin, demo, edge, bgp, scenario, verify(, [a-z-]+)*\)/);
});

test('a lab with a dangling reference exits 2 with file, line and key path, and creates nothing', () => {
  const f = join(dir, 'lab.yaml');
  writeFileSync(f, `name: bad${process.pid}\ntopology:\n  nodes:\n    a: { kind: host }\n  links:\n    - endpoints: ["a:eth0", "ghost:eth0"]\n`);
  const r = cli('twin', 'up', f, '--no-intent');
  assert.is(r.status, 2);
  assert.is(r.stderr.trim(), `${f}:6: topology.links[0].endpoints[1]: node "ghost" is not defined (known: a)`);
  assert.equal(ourNamespaces(), []);
});

test('an intent that names a transport the lab lacks exits 2 before anything is deployed', () => {
  const lab = join(dir, 'lab2.yaml');
  writeFileSync(lab, readFileSync('labs/two-site-dual-wan/lab.yaml', 'utf8').replace('name: two-site-dual-wan', `name: bad${process.pid}`));
  const intent = join(dir, 'intent.yaml');
  writeFileSync(intent, readFileSync('labs/two-site-dual-wan/intent.yaml', 'utf8').replace(/preferred: \[mpls, inet\]/, 'preferred: [mpls, lte]'));
  const r = cli('twin', 'up', lab, '--intent', intent);
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, intent);
  assert.match(r.stderr, /transport "lte"/);
  assert.equal(ourNamespaces(), []);
});

test('twin validate checks a lab and its intent without deploying', () => {
  const r = cli('twin', 'validate', 'labs/two-site-dual-wan/lab.yaml');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, 'labs/two-site-dual-wan/lab.yaml: ok (6 nodes, 6 links)');
  assert.match(r.stdout, /intent\.yaml: ok \(2 bundles: edge1 [0-9a-f]{12}, edge2 [0-9a-f]{12}\)/);
});

test('twin usage errors exit 2', () => {
  assert.is(cli('twin', 'link', 'x', 'a:b', 'sideways').status, 2);
  assert.is(cli('twin', 'down').status, 2);
  assert.is(cli('twin', 'up').status, 2);
});

test.run();

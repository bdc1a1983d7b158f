// timeout: 200
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getProvider, loadLab } from '../../twin/index.ts';

const p = getProvider('netns');
const name = `tc${process.pid}`;
const dir = mkdtempSync(join(process.cwd(), 'test/.tmp-impair-'));
const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', ...args], { encoding: 'utf8', timeout: 120_000 });

test.after(async () => { await p.destroy(name); await p.destroy(`${name}b`); rmSync(dir, { recursive: true, force: true }); });

test('calibrate measures every delay-line link within tolerance and prints the table', async () => {
  // The trace holds 15 ms for ten minutes: the lab deploys with it replayed (a schedule of one state).
  writeFileSync(join(dir, 'brownout.csv'), 'time,delay,loss\n0s,15ms,2%\n600s,80ms,10%\n');
  writeFileSync(join(dir, 'lab.yaml'), `name: ${name}
seed: 3
topology:
  nodes:
    a: { kind: host }
    b: { kind: host }
    c: { kind: host }
  links:
    - endpoints: ["a:eth0", "b:eth0"]
      impair: { delay: 10ms, loss: 3%, rate: 20mbit, buffer: 30ms }
    - endpoints: ["a:eth1", "c:eth0"]
      impair: { trace: brownout.csv }
`);
  await p.deploy(loadLab(join(dir, 'lab.yaml')));
  const r = cli('twin', 'calibrate', name, '--probes', '2000');
  console.log(r.stdout, r.stderr);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /a:eth0 → b:eth0\s+delay\s+10\.000ms/);
  assert.match(r.stdout, /a:eth0 → b:eth0\s+rate\s+20\.000mbit/);
  assert.match(r.stdout, /a:eth1 → c:eth0\s+delay\s+15\.000ms/);
  assert.match(r.stdout, /c:eth0 → a:eth1\s+loss\s+2\.00%/);
  assert.not.match(r.stdout, /OUT/);
});

test('a link that misbehaves behind the delay line makes calibrate exit 3', async () => {
  await p.setLinkState(name, 'c:eth0', 'down');
  const r = cli('twin', 'calibrate', name, '--probes', '300');
  assert.is(r.status, 3, r.stdout + r.stderr);
  assert.match(r.stdout, /a:eth1 → c:eth0\s+loss\s+2\.00%\s+100\.00%.*OUT/);
  assert.match(r.stderr, 'not trustworthy');
});

test('calibrate of a lab that is not deployed fails with a clear message', () => {
  const r = cli('twin', 'calibrate', `${name}x`);
  assert.is(r.status, 1);
  assert.match(r.stderr, 'is not deployed');
});

test('calibrate sees probes into a bridge-mode cloud (its end is a bridge port) in both directions', async () => {
  writeFileSync(join(dir, 'bridge.yaml'), `name: ${name}b
topology:
  nodes:
    a: { kind: host }
    w: { kind: wan, wan: { mode: bridge, transport: mpls, subnet: 172.31.0.0/24 } }
  links:
    - endpoints: ["a:eth0", "w:p1"]
      impair: { delay: 5ms }
`);
  await p.deploy(loadLab(join(dir, 'bridge.yaml')));
  const r = cli('twin', 'calibrate', `${name}b`, '--probes', '300');
  assert.is(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /a:eth0 → w:p1\s+delay\s+5\.000ms/);
  assert.match(r.stdout, /a:eth0 → w:p1\s+loss\s+0\.00%\s+0\.00%/);
  assert.match(r.stdout, /w:p1 → a:eth0\s+loss\s+0\.00%\s+0\.00%/);
});

test.run();

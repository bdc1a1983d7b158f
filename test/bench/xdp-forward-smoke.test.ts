// timeout: 120
/**
 * bench/xdp-forward.ts at one low rate (--quick: 20 kpps for 1 s per variant): correctness, not speed.
 * Every variant — the LAN XDP program native and generic, the VXLAN + fwmark overlay, plain forwarding —
 * must deliver every packet it sent, each inner packet byte-equal (the sink checks them), and the XDP
 * variants must have run the program on each packet. Bad arguments exit 2 before anything is created.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bench = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'bench/xdp-forward.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 100_000 });

interface Step { v: string; cap: number; sent: number; delivered: number; bad: number; prog_runs?: number }

test('every variant delivers every packet byte-equal at a low rate', () => {
  const r = bench('--quick');
  assert.is(r.status, 0, `bench failed:\n${r.stderr}`);
  const last = r.stdout.trim().split('\n').at(-1)!;
  const j = JSON.parse(last) as { bench: string; steps: Step[] };
  assert.is(j.bench, 'xdp-forward');
  assert.equal(j.steps.map((s) => s.v).sort(), ['kernel-fwd', 'linux-overlay', 'xdp-generic', 'xdp-native']);
  for (const s of j.steps) {
    assert.ok(s.sent >= 10_000, `${s.v}: sent only ${s.sent}`);
    assert.is(s.delivered, s.sent, `${s.v}: delivered ${s.delivered} of ${s.sent}`);
    assert.is(s.bad, 0, `${s.v}: ${s.bad} packets differ from what was sent`);
    if (s.v.startsWith('xdp')) assert.ok((s.prog_runs ?? 0) >= s.sent, `${s.v}: the LAN program ran ${s.prog_runs} times for ${s.sent} packets`);
  }
});

test('a malformed rate list exits 2 naming the flag', () => {
  const r = bench('--rates', '50k,0');
  assert.is(r.status, 2);
  assert.match(r.stderr, /--rates expects packets\/s/);
});

test.run();

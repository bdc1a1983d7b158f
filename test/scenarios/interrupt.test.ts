// timeout: 150
// Ctrl-C in the middle of `patronus scenario run`: traffic stops, the lab is torn down, the exit code is 3
// (invalid run) and the telemetry gathered so far stays readable in the run file. SIGKILL: the runner cannot
// clean up, but its lab is claimed, so the provider's stale scan (`twin down --stale`) finds it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getProvider } from '../../twin/index.ts';
import { queryRuns } from '../../scenarios/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'pt-scenario-int-'));
const p = getProvider('netns');
let lab = '';
test.after(async () => {
  if (lab && (await p.list()).includes(lab)) await p.destroy(lab);
  rmSync(dir, { recursive: true, force: true });
});

test('SIGINT mid-run tears the lab down, exits 3 and keeps the partial telemetry', async () => {
  const out = join(dir, 'int.duckdb');
  const child = spawn(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', 'scenario', 'run', 'scenarios/isp-cut.yaml', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
  lab = `sc${child.pid}`;
  let stderr = '', stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no traffic within 90 s: ${stderr}`)), 90_000);
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.includes('traffic started')) { clearTimeout(timer); resolve(); }
    });
  });
  await new Promise((r) => setTimeout(r, 3000));
  child.kill('SIGINT');
  const code = await exited;
  assert.is(code, 3, `${stdout}\n${stderr}`);
  assert.match(stderr, 'interrupted: stopping traffic and tearing down');
  assert.equal(execFileSync('ip', ['netns', 'list']).toString().split('\n').filter((l) => l.startsWith(`pt.${lab}.`)), [], 'no namespace of the lab left');
  const runs = (await queryRuns('select verdict, exit_code, invalid_reasons from runs', [out])).rows;
  assert.equal([runs[0]!.verdict, runs[0]!.exit_code], ['invalid', 3]);
  assert.match(String(runs[0]!.invalid_reasons), 'interrupted before the end of the scenario');
  const [f] = (await queryRuns("select sum(received) as n from flows where flow = 'call'", [out])).rows;
  assert.ok((f!.n as number) > 50, `partial voice telemetry kept (${f!.n} packets)`);
});

test('a SIGKILLed runner\'s lab is found by the stale scan (alive: not stale) and its run file stays readable', async () => {
  const out = join(dir, 'kill.duckdb');
  const child = spawn(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', 'scenario', 'run', 'scenarios/isp-cut.yaml', '--out', out], { stdio: ['ignore', 'ignore', 'pipe'] });
  const killed = `sc${child.pid}`;
  lab = killed;
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no traffic within 90 s: ${stderr}`)), 90_000);
    child.stderr.on('data', (d) => {
      stderr += d;
      if (stderr.includes('traffic started')) { clearTimeout(timer); resolve(); }
    });
  });
  assert.not.ok((await p.stale()).includes(killed), 'a running runner\'s lab is not stale');
  child.kill('SIGKILL');
  await exited;
  assert.ok((await p.list()).includes(killed), 'SIGKILL left the lab behind');
  assert.ok((await p.stale()).includes(killed), 'the stale scan finds it');
  // Only this lab: `twin down --stale` would also take other people's stale labs on a shared host.
  await p.destroy(killed);
  assert.equal(execFileSync('ip', ['netns', 'list']).toString().split('\n').filter((l) => l.startsWith(`pt.${killed}.`)), []);
  const runs = (await queryRuns('select verdict from runs', [out])).rows;
  assert.equal(runs, [{ verdict: 'running' }], 'the run file opens; the run never finished');
});

test.run();

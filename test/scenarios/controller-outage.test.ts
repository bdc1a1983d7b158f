// timeout: 240
// controller-outage end to end on the netns twin (about 70 s a run): the edges run under a real
// `controller serve` in the lab (enrolled with one-time tokens, bundles pulled as a controller version), their
// management links go down from 10 s to 20 s, and site 2's MPLS is cut and restored inside the outage. Checked
// against the run file: the data plane forwarded and failed over without the controller (flows, steering
// events), each edge's status reported the controller lost during the outage and back after it (events table),
// and every health report the edges made — those queued during the outage too — is in the controller's
// analytics store (controller_health: seq complete per agent process, the outage's reports received after the
// restore). Needs `node scripts/build.mjs`; run under `flock /tmp/pt-heavy.lock`. A run the twin could not
// trust (exit 3) is run once more; two fail the test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getProvider } from '../../twin/index.ts';
import { packageRoot } from '../../dataplane/index.ts';
import { queryRuns, runScenario } from '../../scenarios/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'pt-scenario-ctl-'));
const lab = `scc${process.pid}`;
const p = getProvider('netns');
const FILE = 'scenarios/controller/controller-outage.yaml';

test.after(async () => {
  if ((await p.list()).includes(lab)) await p.destroy(lab);
  rmSync(dir, { recursive: true, force: true });
});

test('controller-outage: fail-static forwarding, the loss and the reconnection noticed, no health report lost', async () => {
  for (const f of ['dist/patronus.js', 'dist/edge.js']) assert.ok(existsSync(join(packageRoot(), f)), `${f} missing: run node scripts/build.mjs`);
  let r = await runScenario(FILE, { out: join(dir, 'c.duckdb'), labName: lab });
  // A run the twin could not trust (an overloaded machine) is run again, up to three runs in all.
  for (let run = 2; run <= 3 && r.verdict === 'invalid'; run++) {
    console.log(`  run ${run - 1} invalid (${r.invalidReasons.join('; ')}), running it again`);
    r = await runScenario(FILE, { out: join(dir, `c${run}.duckdb`), labName: lab });
  }
  const q = async (sql: string) => (await queryRuns(sql, [r.file])).rows;
  assert.not.ok((await p.list()).includes(lab), 'the lab is torn down');
  assert.equal(execFileSync('ip', ['netns', 'list']).toString().split('\n').filter((l) => l.startsWith(`pt.${lab}.`)), [], 'the controller namespace went with it');
  // The controller kept its state beside the run file: the store and the analytics store it wrote.
  assert.ok(existsSync(r.file.replace(/\.duckdb$/, '.controller/analytics.duckdb')));

  const ev = await q('select kind, target, fired_ms from events order by fired_ms');
  const at = (kind: string, target: string) => Number(ev.find((e) => e.kind === kind && e.target === target)?.fired_ms);
  const cut = at('controller', 'unreachable'), back = at('controller', 'reachable');
  assert.ok(cut >= 10_000 && back >= 20_000, JSON.stringify(ev));
  for (const e of ['edge1', 'edge2']) {
    // The agent's status said "unreachable" during the outage and "reachable" after it (its own timestamps).
    const lost = ev.filter((x) => x.kind === 'controller-lost' && x.target === e).map((x) => Number(x.fired_ms));
    const found = ev.filter((x) => x.kind === 'controller-back' && x.target === e).map((x) => Number(x.fired_ms));
    assert.ok(lost.some((t) => t > cut && t < back), `${e} noticed the loss during the outage: ${lost}`);
    assert.ok(found.some((t) => t > back), `${e} noticed the controller back after the restore: ${found}`);
    assert.not.ok(lost.some((t) => t > back), `${e}: no loss noticed after the restore (a stale request is no outage): ${lost}`);
    console.log(`  ${e}: lost ${(Math.min(...lost.filter((t) => t > cut)) - cut).toFixed(0)} ms after the cut, back ${(Math.min(...found.filter((t) => t > back)) - back).toFixed(0)} ms after the restore`);

    // Every report of each agent process is in the controller's store (seq 1..n without a hole) …
    const seqs = await q(`select pid, count(distinct seq) as n, min(seq) as lo, max(seq) as hi from controller_health where node = '${e}' group by pid`);
    assert.ok(seqs.length >= 1, `${e}: reports in the controller store`);
    for (const s of seqs) assert.is(Number(s.n), Number(s.hi) - Number(s.lo) + 1, `${e} pid ${s.pid}: seq ${s.lo}..${s.hi} has holes (${s.n} distinct)`);
    // … including those made while the controller was cut off: reported during the outage, received after it.
    const firstLost = Math.min(...lost.filter((t) => t > cut)), firstBack = Math.min(...found.filter((t) => t > back));
    const [o] = await q(`select count(*) as n, min(received_ms) as first_rx from controller_health where node = '${e}' and reported_ms > ${firstLost} and reported_ms < ${firstBack}`);
    assert.ok(Number(o!.n) >= 2, `${e}: ${o!.n} reports made during the outage reached the controller`);
    assert.ok(Number(o!.first_rx) >= back, `${e}: the outage's reports were received after the restore (first at ${o!.first_rx} ms, restore ${back} ms)`);
    const left = await q(`select metric, value from overload where subject = '${e}' and metric like 'controller_health_%'`);
    const v = (m: string) => Number(left.find((x) => x.metric === m)?.value);
    assert.is(v('controller_health_queued'), 0, `${e}: nothing left queued`);
    assert.is(v('controller_health_dropped'), 0, `${e}: nothing dropped`);
    assert.ok(v('controller_health_late') >= Number(o!.n) - 1, `${e}: the agent counted its late deliveries (${v('controller_health_late')})`);
  }

  // Fail-static: voice crossed every second of the outage, and site 2 failed over and back by itself.
  const gaps = await q(`select t_ms, sent, received from flows where flow = 'call' and t_ms >= ${Math.ceil(cut / 1000) * 1000} and t_ms < ${Math.floor(back / 1000) * 1000} order by t_ms`);
  assert.ok(gaps.length >= 8, JSON.stringify(gaps));
  for (const g of gaps) assert.ok(Number(g.received) > 0, `voice received nothing in the interval at ${g.t_ms} ms`);
  const steer = await q(`select count(*) as n from steering_events where t_ms > ${cut} and t_ms < ${back}`);
  assert.ok(Number(steer[0]!.n) >= 1, 'steering moved during the outage (the MPLS cut), without the controller');

  const a = r.assertions.find((x) => x.kind === 'controllerReconnect')!;
  console.log(`  ${a.name}: ${a.ok ? 'ok' : 'FAIL'} — ${a.detail}`);
  assert.ok(a.measured !== null && a.measured > 0, 'the reconnection delay is measured');
  // Three runs the twin could not trust fail the test: nothing was verified.
  assert.is(r.verdict, 'pass', `${r.summary}\n${r.invalidReasons.join('\n')}`);
});

test.run();

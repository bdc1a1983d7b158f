// timeout: 200
// wanopt-repeat end to end on the netns twin (about 50 s a run): the same 4 MiB file crosses three times
// through the WAN-opt proxies, the run file holds the edges' WAN-opt counters (wanopt table) and the
// wanoptReduction assertions judge them; the new overload signs — each agent's event-loop lag and each
// delay-line direction's lateness — are recorded in the overload table. Run by hand under
// `flock /tmp/pt-heavy.lock`. A run the twin could not trust (exit 3) is run once more; two fail the test.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getProvider } from '../../twin/index.ts';
import { queryRuns, runScenario } from '../../scenarios/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'pt-scenario-wanopt-'));
const lab = `scw${process.pid}`;
const p = getProvider('netns');

test.after(async () => {
  if ((await p.list()).includes(lab)) await p.destroy(lab);
  rmSync(dir, { recursive: true, force: true });
});

test('wanopt-repeat: the repeats cross as references, and the run file holds the counters and the new trust signs', async () => {
  let r = await runScenario('scenarios/wanopt/wanopt-repeat.yaml', { out: join(dir, 'w.duckdb'), labName: lab });
  if (r.verdict === 'invalid') {
    console.log(`  run 1 invalid (${r.invalidReasons.join('; ')}), running it again`);
    r = await runScenario('scenarios/wanopt/wanopt-repeat.yaml', { out: join(dir, 'w2.duckdb'), labName: lab });
  }
  const q = async (sql: string) => (await queryRuns(sql, [r.file])).rows;
  assert.not.ok((await p.list()).includes(lab), 'the lab is torn down');

  // Three copies of 4 MiB reached host2 (the receiver's byte counts in the flows table).
  const [got] = await q("select sum(goodput_bps) * any_value(interval_ms) / 8000 as bytes from flows, runs where flow = 'report'");
  assert.is(Math.round(got!.bytes as number), 3 * 4 * 1024 ** 2, r.summary);

  // The counters: sampled before traffic (t < 0), through the run and after it, per edge.
  const rows = await q('select node, count(*) as n, min(t_ms) as first, max(raw_out) - min(raw_out) as raw, max(wire_out) - min(wire_out) as wire from wanopt group by node order by node');
  assert.equal(rows.map((x) => x.node), ['edge1', 'edge2']);
  assert.ok((rows[0]!.first as number) < 0 && (rows[0]!.n as number) > 10, JSON.stringify(rows));
  // edge1 took the three copies from host1 and put about one on the wire: the first went as literals
  // (random bytes do not compress), the other two as references.
  const raw = rows[0]!.raw as number, wire = rows[0]!.wire as number;
  assert.ok(raw >= 3 * 4 * 1024 ** 2, `edge1 payload ${raw}`);
  assert.ok(wire > 4 * 1024 ** 2 * 0.98 && wire < 4 * 1024 ** 2 * 1.3, `edge1 wire ${wire}`);

  const a = r.assertions.find((x) => x.kind === 'wanoptReduction' && x.target === 'every edge')!;
  assert.ok(a.measured! > 0.55 && a.measured! < 0.68, `reduction ${a.measured} (at most 2/3 with three copies)`);
  assert.match(r.summary, /wan-opt:\n {2}edge1: 12\.58 MB of payload as 4\.\d+ MB on the wire/);

  // The agents' event-loop lag (both edges, ticks through the run) and both directions of edge1's delay line.
  const sign = await q("select metric, subject, value from overload where subject is not null order by metric, subject");
  const val = (m: string, s: string) => sign.find((x) => x.metric === m && x.subject === s)?.value as number | undefined;
  for (const e of ['edge1', 'edge2']) {
    assert.ok(val('agent_loop_ticks', e)! > 200, `${e}: ${val('agent_loop_ticks', e)} lag ticks at 20 ms`);
    assert.ok(val('agent_loop_lag_p99_ms', e)! > 0, `${e}: p99 recorded`);
  }
  assert.ok(val('delay_line_packets', 'edge1:wan0')! > 2500, `the data direction carried the first copy: ${val('delay_line_packets', 'edge1:wan0')}`);
  assert.ok(val('delay_line_packets', 'mpls:p1')! > 100, 'and the acknowledgements came back');
  assert.ok(val('delay_line_late_p99_ms', 'edge1:wan0')! > 0);

  // Two runs the twin could not trust fail the test (as in twin.test.ts): nothing was verified.
  assert.is(r.verdict, 'pass', `${r.summary}\n${r.invalidReasons.join('\n')}`);
  assert.ok(readFileSync(r.report!, 'utf8').includes('wan-opt:'));
});

test.run();

// timeout: 30
/**
 * The runner's side of the raw probe log (scenarios/probes.ts): pulling agents' probe logs by cursor
 * (served here by a real ProbeLog through the same query the agent parses), counting overwritten rows as
 * dropped, following an agent restart, mapping the agent clock to the run's, and landing the rows in a
 * run file's `probes` table. Also checks docs/telemetry.md documents every column of every run table.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProbeLog, probeQuery } from '../../dataplane/agent/probe-log.ts';
import { PROBE_LOST } from '../../dataplane/probe/index.ts';
import { ProbePuller, probeRows } from '../../scenarios/probes.ts';
import { RunStore, TABLES, queryRuns } from '../../scenarios/store.ts';

const dir = mkdtempSync(join(tmpdir(), 'pt-probes-test-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** An agent whose clock runs `skew` ms ahead of the host's, serving its log as GET /probes would. */
function agent(capacity: number, skew = 0) {
  const a = { log: new ProbeLog(capacity, () => Date.now() + skew), requests: 0 };
  a.log.setPeers([{ id: 1, peerNode: 'edge2' }, { id: 2, peerNode: 'edge3' }]);
  return a;
}
/** Serves pages of at most `page` rows when the reader names no limit, like the agent (PROBE_PAGE_ROWS). */
const fetcher = (agents: Record<string, ReturnType<typeof agent>>, page = 4096) => async (node: string, q: string) => {
  const a = agents[node]!;
  a.requests++;
  const x = probeQuery(`/probes?${q}`);
  return JSON.parse(JSON.stringify(a.log.read(x.since, x.limit ?? page, x.log)));
};

test('rows before the mark are left out, later ones are pulled once each, in order', async () => {
  const e = agent(64);
  for (let s = 0; s < 5; s++) e.log.record(1, s, Date.now(), 10, 5, 5, 0);
  const pull = new ProbePuller('r1', fetcher({ edge1: e }));
  assert.ok(await pull.mark('edge1'));
  for (let s = 5; s < 8; s++) e.log.record(1, s, Date.now(), 10, 5, 5, 0);
  await pull.pull('edge1', 0);
  e.log.record(2, 0, Date.now(), NaN, NaN, NaN, PROBE_LOST);
  await pull.pull('edge1', 0, (id) => (id === 1 ? 'mpls' : 'inet'));
  await pull.pull('edge1', 0);
  assert.equal(pull.rows.map((r) => `${r.path_id}/${r.seq}/${r.peer}`), ['1/5/edge2', '1/6/edge2', '1/7/edge2', '2/0/edge3']);
  assert.equal([pull.rows[3]!.rtt_ms, pull.rows[3]!.lost, pull.rows[3]!.transport], [null, true, 'inet']);
  assert.is(pull.dropped.get('edge1'), 0);
});

test('a reader that is behind pulls page after page until it has caught up', async () => {
  const agents = { edge1: agent(64) };
  const pull = new ProbePuller('r1', fetcher(agents, 3));
  await pull.mark('edge1');
  for (let s = 0; s < 10; s++) agents.edge1.log.record(1, s, Date.now(), 10, 5, 5, 0);
  await pull.pull('edge1', 0);
  assert.equal(pull.rows.map((r) => r.seq), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.is(agents.edge1.requests, 1 + 4, 'the mark, then 4 pages of at most 3 rows');
});

test('rows the ring overwrote between two pulls are counted as dropped', async () => {
  const e = agent(8);
  const pull = new ProbePuller('r1', fetcher({ edge1: e }));
  await pull.mark('edge1');
  for (let s = 0; s < 20; s++) e.log.record(1, s, Date.now(), 10, 5, 5, 0);
  await pull.pull('edge1', 0);
  assert.is(pull.rows.length, 8);
  assert.is(pull.dropped.get('edge1'), 12);
  for (let s = 20; s < 23; s++) e.log.record(1, s, Date.now(), 10, 5, 5, 0);
  await pull.pull('edge1', 0);
  assert.is(pull.dropped.get('edge1'), 12, 'a reader that keeps up drops nothing more');
});

test('a restarted agent (a new log) is read from its first row', async () => {
  const agents = { edge1: agent(64) };
  const pull = new ProbePuller('r1', fetcher(agents));
  await pull.mark('edge1');
  for (let s = 0; s < 10; s++) agents.edge1.log.record(1, s, Date.now(), 10, 5, 5, 0);
  await pull.pull('edge1', 0);
  agents.edge1 = agent(64);
  for (let s = 0; s < 3; s++) agents.edge1.log.record(1, 100 + s, Date.now(), 10, 5, 5, 0);
  await pull.pull('edge1', 0);
  assert.equal(pull.rows.slice(10).map((r) => r.seq), [100, 101, 102]);
});

test('send times on a skewed agent clock land on the run clock, relative to t0', async () => {
  const e = agent(64, 60_000);
  const pull = new ProbePuller('r1', fetcher({ edge1: e }));
  const t0 = performance.timeOrigin + performance.now();
  e.log.record(1, 0, Date.now() + 60_000, 10, 5, 5, 0);
  await pull.pull('edge1', t0);
  // A minute of skew is taken out; what is left is the time between t0 and the record (≪ 1 s) plus Date.now()'s ms rounding.
  assert.ok(Math.abs(pull.rows[0]!.t_ms as number) < 200, `t_ms ${pull.rows[0]!.t_ms}`);
});

test('an agent that does not answer costs a failed pull, not rows', async () => {
  const pull = new ProbePuller('r1', async () => { throw new Error('ECONNREFUSED'); });
  assert.not.ok(await pull.mark('edge9'));
  await pull.pull('edge9', 0);
  assert.equal([pull.rows.length, pull.failed.get('edge9')], [0, 2]);
});

test('probe rows go into the run file\'s probes table with NULL for a lost probe\'s times', async () => {
  const e = agent(64);
  e.log.record(1, 4_000_000_000, 1000, 12.25, 6, 6.25, 0);
  e.log.record(1, 4_000_000_001, 1010, NaN, NaN, NaN, PROBE_LOST);
  const rows = probeRows('r9', 'edge1', e.log.read(0), 5, 900, () => 'mpls');
  const s = await RunStore.create(join(dir, 'p.duckdb'));
  await s.append('probes', rows);
  const got = await s.query('select t_ms, node, path_id, peer, transport, seq, rtt_ms, fwd_ms, rev_ms, lost, late, reordered from probes order by seq');
  s.close();
  assert.equal(got, [
    { t_ms: 105, node: 'edge1', path_id: 1, peer: 'edge2', transport: 'mpls', seq: 4_000_000_000, rtt_ms: 12.25, fwd_ms: 6, rev_ms: 6.25, lost: false, late: false, reordered: false },
    { t_ms: 115, node: 'edge1', path_id: 1, peer: 'edge2', transport: 'mpls', seq: 4_000_000_001, rtt_ms: null, fwd_ms: null, rev_ms: null, lost: true, late: false, reordered: false },
  ]);
});

test('a run file from before the probes table is still queried with newer ones (its probes are simply absent)', async () => {
  const old = join(dir, 'old.duckdb'), fresh = join(dir, 'fresh.duckdb');
  const a = await RunStore.create(old);
  await a.run('drop table probes');
  await a.append('runs', [{ run_id: 'old', scenario: 'x' }]);
  a.close();
  assert.equal((await queryRuns('select count(*) as n from probes', [old])).rows, [{ n: 0 }]);
  const b = await RunStore.create(fresh);
  await b.append('runs', [{ run_id: 'new', scenario: 'x' }]);
  await b.append('probes', [{ run_id: 'new', t_ms: 1, node: 'edge1', path_id: 1, seq: 0, rtt_ms: 2, lost: false, late: false, reordered: false }]);
  b.close();
  assert.equal((await queryRuns('select r.run_id, count(p.seq) as n from runs r left join probes p using (run_id) group by 1 order by 1', [old, fresh])).rows, [{ run_id: 'new', n: 1 }, { run_id: 'old', n: 0 }]);
});

test('docs/telemetry.md documents every run table and each of its columns', () => {
  const doc = readFileSync('docs/telemetry.md', 'utf8');
  for (const [table, cols] of Object.entries(TABLES)) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${table}\` |`));
    assert.ok(row, `docs/telemetry.md has no row for table ${table}`);
    for (const [c] of cols) if (c !== 'run_id') assert.ok(row!.includes(`\`${c}\``), `docs/telemetry.md: ${table}.${c} is not described`);
  }
});

test.run();

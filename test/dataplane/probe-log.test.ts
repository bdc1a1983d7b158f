// timeout: 30
/**
 * The agent's raw-probe log (dataplane/agent/probe-log.ts): ring semantics (cursor, wrap, dropped count,
 * restart by log id, limit), the query parser of GET /probes, and the prober's hook feeding it every
 * reply, timeout and late reply on virtual time.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ProbeLog, probeQuery } from '../../dataplane/agent/probe-log.ts';
import { Prober, VirtualTime, decodeProbe, encodeProbe, PROBE_LOST, PROBE_LATE, type OpenSocket } from '../../dataplane/probe/index.ts';
import type { BundlePath } from '../../dataplane/bundle/schema.ts';

const fill = (log: ProbeLog, from: number, to: number) => {
  for (let s = from; s < to; s++) log.record(1, s, 1000 + s, 10 + s / 1000, 5, 5, 0);
};

test('rows come back in order from the cursor, and next is the cursor of the following read', () => {
  const log = new ProbeLog(8, () => 42);
  log.setPeers([{ id: 1, peerNode: 'edge2' }]);
  fill(log, 0, 5);
  const a = log.read(0);
  assert.equal([a.next, a.dropped, a.total, a.count, a.nowMs], [5, 0, 5, 5, 42]);
  assert.equal(a.columns.seq, [0, 1, 2, 3, 4]);
  assert.equal(a.peers, ['edge2']);
  assert.equal(a.columns.peer, [0, 0, 0, 0, 0]);
  fill(log, 5, 7);
  const b = log.read(a.next);
  assert.equal(b.columns.seq, [5, 6]);
  assert.equal(b.columns.sentMs, [1005, 1006]);
  assert.is(log.read(b.next).count, 0, 'nothing new');
});

test('a wrapped ring serves its newest rows and counts the overwritten ones as dropped', () => {
  const log = new ProbeLog(8);
  fill(log, 0, 20);
  const r = log.read(3);
  // Rows 12…19 survive; 3…11 were overwritten before this read.
  assert.equal(r.columns.seq, [12, 13, 14, 15, 16, 17, 18, 19]);
  assert.is(r.dropped, 9);
  assert.is(r.next, 20);
  assert.is(log.read(12).dropped, 0, 'a reader that kept up misses nothing');
  const page = log.read(12, 3);
  assert.equal([page.columns.seq, page.next], [[12, 13, 14], 15], 'limit bounds a page; next continues after it');
});

test('a cursor from another log id (the agent restarted) or beyond the end reads from row 0', () => {
  const log = new ProbeLog(8);
  fill(log, 0, 3);
  assert.equal(log.read(2, undefined, 'not-this-log').columns.seq, [0, 1, 2]);
  assert.equal(log.read(2, undefined, log.id).columns.seq, [2]);
  assert.equal(log.read(50).columns.seq, [0, 1, 2]);
});

test('lost probes have null RTT and the lost flag; late and reordered replies their flags', () => {
  const log = new ProbeLog(8);
  log.setPeers([{ id: 3, peerNode: 'hub' }]);
  log.record(3, 1, 100, NaN, NaN, NaN, PROBE_LOST);
  log.record(3, 1, 100, 2500.1234, 1200, 1300.1234, PROBE_LATE);
  log.record(9, 2, 110, 20, 10, 10, 4);
  const c = log.read(0).columns;
  assert.equal(c.rttMs, [null, 2500.123, 20]);
  assert.equal(c.fwdMs, [null, 1200, 10]);
  assert.equal(c.lost, [true, false, false]);
  assert.equal(c.late, [false, true, false]);
  assert.equal(c.reordered, [false, false, true]);
  assert.equal(c.peer, [0, 0, -1], 'a path no bundle named has no peer');
  assert.equal(JSON.parse(JSON.stringify(log.read(0))).columns.rttMs, [null, 2500.123, 20], 'JSON keeps null for lost');
});

test('the query of GET /probes is parsed, and a bad since or limit names the key', () => {
  assert.equal(probeQuery('/probes'), { since: 0, limit: undefined, log: undefined });
  assert.equal(probeQuery('/probes?since=120&log=ab12&limit=5'), { since: 120, limit: 5, log: 'ab12' });
  assert.throws(() => probeQuery('/probes?since=-1'), /since must be a non-negative integer, got "-1"/);
  assert.throws(() => probeQuery('/probes?limit=x'), /limit must be a non-negative integer/);
});

const PATH = {
  id: 1, peerNode: 'edge2', peerSite: 'b', peerSiteId: 2, transport: 'mpls', role: 'active', probe: true,
  localInterface: 'wan0', localAddress: '192.0.2.1', remoteAddress: '192.0.2.2', mtu: 1500,
} as unknown as BundlePath;

test('the prober records every reply with its RTT, every timeout as lost, and a reply after its timeout as late', async () => {
  const vt = new VirtualTime(1_000_000);
  // A peer 5 ms away (RTT 10 ms) that drops probes 20…24 and holds probe 30's reply for 2 s.
  const open: OpenSocket = async (_local, onMessage) => ({
    send: (buf) => {
      const d = decodeProbe(buf);
      if (!d.ok || (d.msg.seq >= 20 && d.msg.seq < 25)) return;
      const hold = d.msg.seq === 30 ? 2000 : 0;
      vt.setTimeout(() => {
        const rx = vt.now();
        vt.setTimeout(() => onMessage(encodeProbe({ ...d.msg, type: 'reply', reflectorRxTs: rx, reflectorTxTs: rx }), { address: PATH.remoteAddress, port: 4784 }), 5);
      }, 5 + hold);
    },
    close: async () => {},
  });
  const log = new ProbeLog(1024, () => vt.now());
  log.setPeers([PATH]);
  const prober = new Prober({ paths: [PATH], clock: vt, timers: vt, openSocket: open, monitor: { intervalMs: 50, idleIntervalMs: 50 }, recorder: log });
  await prober.start();
  vt.advance(5_000);
  await prober.stop();
  const c = log.read(0).columns;
  const rows = c.seq.map((seq, i) => ({ seq, rtt: c.rttMs[i], lost: c.lost[i], late: c.late[i], sent: c.sentMs[i]!, fwd: c.fwdMs[i] }));
  const sent = prober.counters.sent;
  assert.ok(sent > 90, `${sent} probes sent`);
  for (const s of [20, 21, 22, 23, 24]) assert.equal(rows.filter((r) => r.seq === s).map((r) => [r.lost, r.rtt]), [[true, null]], `probe ${s}`);
  assert.equal(rows.filter((r) => r.seq === 30).map((r) => [r.lost, r.late, Math.round(r.rtt ?? -1)]), [[true, false, -1], [false, true, 2010]]);
  const ok = rows.filter((r) => !r.lost && !r.late);
  assert.ok(ok.every((r) => r.rtt === 10 && r.fwd === 5), 'replies carry RTT and the forward one-way time');
  assert.ok(ok.every((r) => r.sent === 1_000_000 + r.seq * 50), 'send times are the prober clock\'s');
  // Every probe sent is in the log once, except those still unanswered at the end.
  const seen = new Set(rows.map((r) => r.seq));
  assert.ok(seen.size >= sent - 1 && seen.size <= sent, `${seen.size} of ${sent} probes logged`);
  assert.is(log.recorded, rows.length);
});

test.run();

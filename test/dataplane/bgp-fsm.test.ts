// BGP FSM (RFC 4271 §8) driven with a fake connection, dialer and clock: every state's handler, the
// three timers, passive and active opening, errors and connection collision.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Session, type SessionConfig, type State } from '../../dataplane/bgp/fsm.ts';
import { encodeKeepalive, type UpdateMessage } from '../../dataplane/bgp/codec/index.ts';
import { FakeClock, FakeConn, FakeDialer, flush, peerOpen } from './bgp-fakes.ts';

const cfg: SessionConfig = { localAsn: 65010, routerId: '10.0.0.5', peerAsn: 65001, holdTime: 3, connectRetryTime: 2, idleHoldTime: 1 };

function rig(over: Partial<SessionConfig> = {}) {
  const clock = new FakeClock();
  const dialer = new FakeDialer();
  const log: string[] = [];
  const updates: UpdateMessage[] = [];
  let downs = 0;
  const s = new Session({ ...cfg, ...over }, dialer, clock, {
    stateChange: (f: State, t: State, why: string) => log.push(`${f}->${t}: ${why}`),
    update: (m) => updates.push(m),
    down: () => { downs++; },
  });
  return { s, clock, dialer, log, updates, downs: () => downs };
}

async function establish(r: ReturnType<typeof rig>, peerId = '10.0.0.1') {
  const conn = new FakeConn();
  r.dialer.next = () => conn;
  r.s.start();
  await flush();
  assert.is(r.s.state, 'OpenSent');
  conn.send(peerOpen(65001, peerId));
  assert.is(r.s.state, 'OpenConfirm');
  conn.feed(encodeKeepalive());
  assert.is(r.s.state, 'Established');
  return conn;
}

test('an active session dials, exchanges OPEN and KEEPALIVE and reaches Established with the lower hold time', async () => {
  const r = rig({ holdTime: 90 });
  const conn = await establish(r);
  assert.equal(conn.types(), ['open', 'keepalive']);
  const open = conn.messages()[0];
  assert.ok(open?.type === 'open' && open.capabilities.as4 === 65010 && open.capabilities.routeRefresh);
  assert.is(r.s.info?.holdTime, 3);
  assert.ok(r.s.ctx.as4);
  assert.equal(r.log, ['Idle->Connect: started: connecting', 'Connect->OpenSent: connected', 'OpenSent->OpenConfirm: OPEN received', 'OpenConfirm->Established: KEEPALIVE received']);
});

test('a passive session never dials and accepts the peer connection', async () => {
  const r = rig({ passive: true });
  r.s.start();
  r.clock.advance(10_000);
  await flush();
  assert.is(r.dialer.calls, 0);
  assert.is(r.s.state, 'Active');
  const conn = new FakeConn();
  r.s.incoming(conn);
  assert.is(r.s.state, 'OpenSent');
  conn.send(peerOpen(65001, '10.0.0.1'));
  conn.feed(encodeKeepalive());
  assert.is(r.s.state, 'Established');
});

test('a failed connection goes to Active and the connect-retry timer dials again', async () => {
  const r = rig();
  r.s.start();
  await flush();
  assert.is(r.s.state, 'Active');
  assert.is(r.dialer.calls, 1);
  r.clock.advance(1999);
  assert.is(r.dialer.calls, 1);
  r.clock.advance(1);
  assert.is(r.s.state, 'Connect');
  assert.is(r.dialer.calls, 2);
});

test('keepalives go out every third of the hold time', async () => {
  const r = rig();
  const conn = await establish(r);
  conn.written = [];
  for (let i = 0; i < 5; i++) { r.clock.advance(1000); conn.feed(encodeKeepalive()); }
  assert.equal(conn.types(), ['keepalive', 'keepalive', 'keepalive', 'keepalive', 'keepalive']);
  assert.is(r.s.state, 'Established');
});

test('a silent peer trips the hold timer: NOTIFICATION 4/0, Idle, routes down, and a restart after idle hold', async () => {
  const r = rig();
  const conn = await establish(r);
  r.clock.advance(2999);
  assert.is(r.s.state, 'Established');
  r.clock.advance(1);
  assert.is(r.s.state, 'Idle');
  assert.ok(conn.types().includes('notification 4/0'));
  assert.ok(conn.closed);
  assert.is(r.downs(), 1);
  r.dialer.next = () => new FakeConn();
  r.clock.advance(1000);
  await flush();
  assert.is(r.dialer.calls, 2);
  assert.is(r.s.state, 'OpenSent');
});

test('a peer with the wrong AS gets OPEN error 2/2 and the session stays down until idle hold', async () => {
  const r = rig();
  const conn = new FakeConn();
  r.dialer.next = () => conn;
  r.s.start();
  await flush();
  conn.send(peerOpen(65099, '10.0.0.1'));
  assert.is(r.s.state, 'Idle');
  assert.equal(conn.types(), ['open', 'notification 2/2']);
});

test('a KEEPALIVE before OPEN is an FSM error', async () => {
  const r = rig();
  const conn = new FakeConn();
  r.dialer.next = () => conn;
  r.s.start();
  await flush();
  conn.feed(encodeKeepalive());
  assert.equal(conn.types(), ['open', 'notification 5/1']);
  assert.is(r.s.state, 'Idle');
});

test('UPDATEs reach the hook, split across arbitrary TCP segment boundaries', async () => {
  const r = rig();
  const conn = await establish(r);
  const u: UpdateMessage = { type: 'update', withdrawn: [], nlri: ['10.1.0.0/16'], attrs: { origin: 0, asPath: [{ type: 2, asns: [65001] }], nextHop: '192.0.2.2' } };
  const { encodeUpdate } = await import('../../dataplane/bgp/codec/index.ts');
  const bytes = new Uint8Array([...encodeUpdate(u, { as4: true }), ...encodeKeepalive(), ...encodeUpdate(u, { as4: true })]);
  for (let i = 0; i < bytes.length; i += 7) conn.feed(bytes.subarray(i, i + 7));
  assert.is(r.updates.length, 2);
  assert.equal(r.updates[0]!.nlri, ['10.1.0.0/16']);
});

test('a malformed header in Established sends its NOTIFICATION and drops the session', async () => {
  const r = rig();
  const conn = await establish(r);
  const bad = encodeKeepalive(); bad[3] = 0;
  conn.feed(bad);
  assert.is(r.s.state, 'Idle');
  assert.ok(conn.types().includes('notification 1/1'));
});

test('a NOTIFICATION from the peer takes the session down', async () => {
  const r = rig();
  const conn = await establish(r);
  conn.send({ type: 'notification', code: 6, subcode: 2, data: new Uint8Array(0) });
  assert.is(r.s.state, 'Idle');
  assert.match(r.s.lastReason, /Cease \/ Administrative Shutdown/);
  assert.is(r.downs(), 1);
});

test('stop sends Cease / Administrative Shutdown and does not restart', async () => {
  const r = rig();
  const conn = await establish(r);
  r.s.stop();
  assert.ok(conn.types().includes('notification 6/2'));
  r.clock.advance(60_000);
  await flush();
  assert.is(r.s.state, 'Idle');
  assert.is(r.dialer.calls, 1);
});

test('a connection closed by the peer in Established goes to Idle', async () => {
  const r = rig();
  const conn = await establish(r);
  conn.peerClose();
  assert.is(r.s.state, 'Idle');
  assert.is(r.downs(), 1);
});

test('collision: a peer with the higher identifier keeps its own connection and ours gets Cease 6/7', async () => {
  const r = rig();
  const out = new FakeConn();
  r.dialer.next = () => out;
  r.s.start();
  await flush();
  assert.is(r.s.state, 'OpenSent');
  const inc = new FakeConn();
  r.s.incoming(inc);
  assert.equal(inc.types(), ['open']);
  inc.send(peerOpen(65001, '10.0.0.9')); // 10.0.0.9 > 10.0.0.5
  assert.ok(out.closed);
  assert.ok(out.types().includes('notification 6/7'));
  assert.is(r.s.state, 'OpenConfirm');
  inc.feed(encodeKeepalive());
  assert.is(r.s.state, 'Established');
});

test('collision: a peer with the lower identifier loses its connection and ours survives', async () => {
  const r = rig();
  const out = new FakeConn();
  r.dialer.next = () => out;
  r.s.start();
  await flush();
  const inc = new FakeConn();
  r.s.incoming(inc);
  inc.send(peerOpen(65001, '10.0.0.1'));
  assert.ok(inc.closed);
  assert.ok(inc.types().includes('notification 6/7'));
  assert.not.ok(out.closed);
  out.send(peerOpen(65001, '10.0.0.1'));
  out.feed(encodeKeepalive());
  assert.is(r.s.state, 'Established');
});

test('an incoming connection while Established is refused with Cease 6/7', async () => {
  const r = rig();
  await establish(r);
  const inc = new FakeConn();
  r.s.incoming(inc);
  assert.ok(inc.closed);
  assert.equal(inc.types(), ['notification 6/7']);
  assert.is(r.s.state, 'Established');
});

test('hold time 0 on either side disables keepalives and the hold timer', async () => {
  const r = rig({ holdTime: 0 });
  const conn = await establish(r);
  conn.written = [];
  r.clock.advance(600_000);
  assert.equal(conn.types(), []);
  assert.is(r.s.state, 'Established');
  assert.not.ok(r.s.timerRunning('hold'));
});

test.run();

// timeout: 30
/**
 * The prober with a simulated peer on virtual time: the peer's echoed receive report becomes passive loss
 * of the direction this edge sends in, and a data-only brownout is seen through it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Prober, VirtualTime, decodeProbe, encodeProbe, type OpenSocket, type PathEvent } from '../../dataplane/probe/index.ts';
import type { BundlePath } from '../../dataplane/bundle/schema.ts';

const PATH = {
  id: 1, peerNode: 'edge2', peerSite: 'b', peerSiteId: 2, transport: 'mpls', role: 'active', probe: true,
  localInterface: 'wan0', localAddress: '192.0.2.1', remoteAddress: '192.0.2.2', mtu: 1500,
} as unknown as BundlePath;
const VOICE = { name: 'voice', latencyMs: 150, jitterMs: 30, loss: 0.01 };

/**
 * A peer 1 ms away that answers every probe with its receive counters for data we send at 50 pps;
 * every `lossEvery`-th data packet from `lossFrom` on is lost (0: none).
 */
function peer(vt: VirtualTime, lossFrom: number, lossEvery: number) {
  const rx = { received: 0, lost: 0, reordered: 0 };
  let n = 0;
  const data = () => {
    n++;
    if (lossEvery && vt.now() >= lossFrom && n % lossEvery === 0) rx.lost++; else rx.received++;
    vt.setTimeout(data, 20);
  };
  vt.setTimeout(data, 20);
  const open: OpenSocket = async (_local, onMessage) => ({
    send: (buf, _port, address) => {
      const d = decodeProbe(buf);
      if (!d.ok) return;
      const report = d.msg.ext ? { ...rx } : undefined;
      vt.setTimeout(() => onMessage(encodeProbe({ ...d.msg, type: 'reply', reflectorRxTs: vt.now(), reflectorTxTs: vt.now(), ...(report && { rxReport: report }) }), { address: address ?? PATH.remoteAddress, port: 4784 }), 2);
    },
    close: async () => {},
  });
  return { open, rx };
}

async function run(usePassive: boolean) {
  const vt = new VirtualTime(1_000_000);
  const p0 = peer(vt, 1_000_000 + 20_000, 20); // 5 % data loss from 20 s on; probes never lost
  const events: PathEvent[] = [];
  const prober = new Prober({
    paths: [PATH], slaClasses: [VOICE], clock: vt, timers: vt, openSocket: p0.open,
    monitor: { intervalMs: 50, idleIntervalMs: 50, usePassive }, onEvent: (e) => events.push(e),
  });
  await prober.start();
  vt.advance(30_000);
  await prober.stop();
  return { events, m: prober.monitor(1)!.metrics(vt.now()), rx: p0.rx };
}

test('the peer\'s echoed receive report feeds the path as passive loss, deltas only', async () => {
  const { m, rx } = await run(true);
  assert.ok(m.passiveLost > 0);
  // The last report lags the peer's counters by at most one probe interval of data (3 packets).
  assert.ok(rx.lost - m.passiveLost <= 3 && rx.lost >= m.passiveLost, `${m.passiveLost} of ${rx.lost} lost reported`);
  assert.ok(rx.received - m.passiveReceived <= 3 + 1, `${m.passiveReceived} of ${rx.received} received reported`);
  assert.is(m.lost, 0, 'no probe was lost');
});

test('a data-only 5 % loss brownout violates the voice class through passive loss, and not without it', async () => {
  const withPassive = await run(true);
  const v = withPassive.events.find((e) => e.kind === 'sla' && e.to === 'violating');
  assert.ok(v, 'voice violated');
  assert.match(v!.cause, /loss/);
  const after = v!.at - (1_000_000 + 20_000);
  // 5 % of 50 pps in a 1 s fast window (+ 20 probes): 3 losses make the Wilson lower bound pass 1 %.
  assert.ok(after > 0 && after <= 1500, `seen ${after} ms into the brownout`);
  const without = await run(false);
  assert.not.ok(without.events.some((e) => e.kind === 'sla' && e.to === 'violating'), 'probes alone see nothing');
  assert.is(without.m.passiveLost, 0);
});

test('a new bundle keeps the state of the paths it leaves alone; a changed path or monitor starts over', async () => {
  const vt = new VirtualTime(1_000_000);
  const p0 = peer(vt, Infinity, 0);
  const OTHER = { ...PATH, id: 2, transport: 'inet', localAddress: '198.51.100.1', remoteAddress: '198.51.100.2' } as BundlePath;
  const mk = (paths: BundlePath[], previous?: Prober, intervalMs = 50) => new Prober({
    paths, slaClasses: [VOICE], clock: vt, timers: vt, openSocket: p0.open, monitor: { intervalMs, idleIntervalMs: intervalMs }, ...(previous && { previous }),
  });
  const a = mk([PATH, OTHER]);
  await a.start();
  vt.advance(2000);
  assert.equal(a.views().map((v) => v.state), ['up', 'up']);
  const sentBefore = a.monitor(1)!.metrics(vt.now()).sent;
  await a.stop();
  // Path 1 unchanged; path 2 now probes another remote address (a different path).
  const b = mk([PATH, { ...OTHER, remoteAddress: '198.51.100.9' } as BundlePath], a);
  assert.equal(b.carried(), [1]);
  assert.equal(b.views().map((v) => v.state), ['up', 'down'], 'no trip through down for the path left alone; a new path starts down');
  await b.start();
  vt.advance(1000);
  const m = b.monitor(1)!.metrics(vt.now());
  assert.ok(m.sent > sentBefore, 'its measurements go on');
  assert.is(m.lost, 0, 'the probes in flight at the switch are not counted lost');
  await b.stop();
  // Other monitor settings: the state is not carried (its windows and timeouts would not match).
  const c = mk([PATH], b, 100);
  assert.equal(c.carried(), []);
  assert.equal(c.views().map((v) => v.state), ['down']);
});

test.run();

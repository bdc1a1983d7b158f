// timeout: 180
// A voice flow across labs/two-site-dual-wan (agents with their default probe settings) through a hard cut
// inside the MPLS cloud: it resumes on the internet path, and with the voice rule duplicated it loses nothing.
// The timing figures live in bench/failover.ts; the bounds here are only "recovers, and well before 5 s".
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getProvider } from '../../twin/index.ts';
import { bringUp, prepareLab, pushBundles } from '../../controller/cli/twin.ts';
import { edgeStatus, pathId, txOn, voip } from './edge-status.ts';
import { VoiceFlow, lost, outage, sleep, wallMs, writeLabCopies } from '../../bench/lib/flow.ts';

const lab = `fot${process.pid}`;
const p = getProvider('netns');
const dir = mkdtempSync(join(tmpdir(), 'pt-failover-test-'));
let flow: VoiceFlow | undefined;

const { get: edge1, until } = edgeStatus(p, lab, 'edge1');
const sent = txOn;

test.before(async () => {
  delete process.env.PATRONUS_TWIN_AGENT_ARGS;
  await bringUp(p, prepareLab('labs/two-site-dual-wan/lab.yaml', { name: lab }), { out: { write: () => true } as unknown as NodeJS.WritableStream });
  flow = await VoiceFlow.start(p, lab, { from: 'host1', to: 'host2', toAddress: '10.2.0.10', port: 20000 });
});

test.after(async () => {
  await flow?.stop();
  await p.destroy(lab);
  rmSync(dir, { recursive: true, force: true });
});

test('through a hard cut inside the MPLS cloud the voice flow resumes on the internet path', async () => {
  let st = await until('voice steered on MPLS', 30_000, (s) => voip(s)?.pathIds.join() === String(pathId(s, 'mpls')));
  const mpls = pathId(st, 'mpls'), inet = pathId(st, 'inet');
  await sleep(1000);
  assert.ok(flow!.since(wallMs() - 1000).length >= 40, 'the voice flow arrives before the cut');
  // Passive loss end to end: edge2's responder echoes its pt_rx counters for the data edge1 sends on MPLS.
  const echoed = (await until('edge2 to echo its receive counters for the MPLS path', 5000, (s) => s.paths.find((x: any) => x.id === mpls).passiveReceived > 0)).paths.find((x: any) => x.id === mpls);
  assert.ok(echoed.passiveReceived <= sent(await edge1(), mpls), `edge2 reported ${echoed.passiveReceived} received of what edge1 sent`);
  assert.is(typeof echoed.rttP95Ms, 'number', 'percentiles per path in status');
  const inetBefore = sent(st, inet);
  const t0 = wallMs();
  await p.setLinkState(lab, 'mpls:p2', 'down');
  try {
    st = await until('voice leaves the cut MPLS path', 10_000, (s) => !voip(s)?.pathIds.includes(mpls));
    assert.equal(voip(st).pathIds, [inet]);
    await sleep(1500);
    const o = outage(flow!.arrivals, t0, wallMs() - t0);
    assert.ok(o, 'packets arrived after the outage');
    assert.ok(o!.gapMs < 3000, `outage ${o!.gapMs.toFixed(0)} ms is well under 5 s`);
    assert.ok(o!.lost < 150, `${o!.lost} packets lost (50 pps)`);
    assert.ok(flow!.since(wallMs() - 1000).length >= 40, 'the receiver keeps getting the flow after the cut');
    assert.ok(sent(await edge1(), inet) >= inetBefore + 50, 'the flow is encapsulated on the internet path');
  } finally {
    await p.setLinkState(lab, 'mpls:p2', 'up');
  }
});

test.run();

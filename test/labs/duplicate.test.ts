// timeout: 180
// Duplicate mode through a hard cut: with the voice rule's `strategy: duplicate`, edge1 sends every voice
// packet on both MPLS and internet and edge2 keeps the first copy; a cut inside the MPLS cloud must cost the
// voice flow nothing — the internet copies carry it before and after the probes notice the cut.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getProvider } from '../../twin/index.ts';
import { bringUp, prepareLab } from '../../controller/cli/twin.ts';
import { edgeStatus, pathId, txOn, voip } from './edge-status.ts';
import { VoiceFlow, lost, sleep, wallMs, writeLabCopies } from '../../bench/lib/flow.ts';

const lab = `dpt${process.pid}`;
const p = getProvider('netns');
const dir = mkdtempSync(join(tmpdir(), 'pt-dup-test-'));
let flow: VoiceFlow | undefined;

const status = (node: string): Promise<any> => edgeStatus(p, lab, node).get();

test.before(async () => {
  delete process.env.PATRONUS_TWIN_AGENT_ARGS;
  const files = writeLabCopies(dir);
  await bringUp(p, prepareLab('labs/two-site-dual-wan/lab.yaml', { name: lab, intent: files.dupIntent }), { out: { write: () => true } as unknown as NodeJS.WritableStream });
  flow = await VoiceFlow.start(p, lab, { from: 'host1', to: 'host2', toAddress: '10.2.0.10', port: 20000 });
});

test.after(async () => {
  await flow?.stop();
  await p.destroy(lab);
  rmSync(dir, { recursive: true, force: true });
});

test('a duplicated voice flow loses no packet through a hard cut inside the MPLS cloud', async () => {
  let st = await status('edge1');
  for (const end = Date.now() + 30_000; voip(st)?.pathIds.length !== 2; st = await status('edge1')) {
    if (Date.now() > end) assert.unreachable(`voice duplicated on both paths within 30 s; voip row ${JSON.stringify(voip(st))}`);
    await sleep(100);
  }
  assert.equal(voip(st).mode, 'duplicate');
  const mpls = pathId(st, 'mpls');
  const dupsBefore = (await status('edge2')).overlay.drops.duplicate ?? 0;
  await sleep(1000);
  const t0 = wallMs();
  await p.setLinkState(lab, 'mpls:p2', 'down');
  try {
    for (const end = Date.now() + 10_000; voip(st).pathIds.includes(mpls); st = await status('edge1')) {
      if (Date.now() > end) assert.unreachable('edge1 notices the cut MPLS path within 10 s');
      await sleep(100);
    }
    await sleep(1000);
  } finally {
    await p.setLinkState(lab, 'mpls:p2', 'up');
  }
  const window = flow!.arrivals.filter((a) => a.sent >= t0 - 1000 && a.sent <= wallMs() - 500);
  assert.ok(window.length >= 50, `${window.length} voice packets arrived around the cut`);
  assert.is(lost(window), 0, 'no voice packet lost through the cut');
  const dups = ((await status('edge2')).overlay.drops.duplicate ?? 0) - dupsBefore;
  assert.ok(dups >= 20, `edge2 dropped the second copy of the packets sent in the second before the cut (${dups})`);
});

test.run();

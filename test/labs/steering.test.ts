// timeout: 150
// A steering change on the twin (labs/two-site-dual-wan): a new bundle prefers the internet path for voice.
// New voice flows take it; the voice flow already running stays on MPLS, which still complies — the
// per-path transmit counters of edge1's data plane prove both, and the receiver gets every packet of both.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getProvider } from '../../twin/index.ts';
import { bringUp, prepareLab, pushBundles } from '../../controller/cli/twin.ts';
import { edgeStatus, pathId, txOn, voip } from './edge-status.ts';
import { VoiceFlow, lost, sleep, wallMs } from '../../bench/lib/flow.ts';

const lab = `stt${process.pid}`;
const p = getProvider('netns');
const dir = mkdtempSync(join(tmpdir(), 'pt-steering-test-'));
const flows: VoiceFlow[] = [];

const { get: edge1, until } = edgeStatus(p, lab, 'edge1');
const tx = txOn;

test.before(async () => {
  delete process.env.PATRONUS_TWIN_AGENT_ARGS;
  await bringUp(p, prepareLab('labs/two-site-dual-wan/lab.yaml', { name: lab }), { out: { write: () => true } as unknown as NodeJS.WritableStream });
});

test.after(async () => {
  for (const f of flows) await f.stop();
  await p.destroy(lab);
  rmSync(dir, { recursive: true, force: true });
});

test('after a steering change new flows take the new path while the running flow stays on its own', async () => {
  let st = await until('voice steered on MPLS', 30_000, (s) => voip(s)?.pathIds.join() === String(pathId(s, 'mpls')));
  const mpls = pathId(st, 'mpls'), inet = pathId(st, 'inet');
  const a = await VoiceFlow.start(p, lab, { from: 'host1', to: 'host2', toAddress: '10.2.0.10', port: 20000 });
  flows.push(a);
  await sleep(1500);

  const intent = readFileSync('labs/two-site-dual-wan/intent.yaml', 'utf8');
  const voiceLine = '    paths: { preferred: [mpls, inet] }';
  assert.ok(intent.includes(voiceLine), "the lab intent's voice rule prefers MPLS");
  writeFileSync(join(dir, 'intent.yaml'), intent.replace(voiceLine, '    paths: { preferred: [inet, mpls] }'));
  await pushBundles(p, lab, prepareLab('labs/two-site-dual-wan/lab.yaml', { name: lab, intent: join(dir, 'intent.yaml') }).bundles);
  st = await until('voice steered on the internet path', 15_000, (s) => voip(s)?.pathIds.join() === String(inet));
  assert.ok(voip(st).keep.includes(mpls), 'flows on MPLS may stay there');

  await sleep(500);
  const s0 = await edge1();
  await sleep(2000);
  const s1 = await edge1();
  const aOnMpls = tx(s1, mpls) - tx(s0, mpls), aOnInet = tx(s1, inet) - tx(s0, inet);
  assert.ok(aOnMpls >= 80, `the running flow keeps going out on MPLS (${aOnMpls} packets in 2 s at 50 pps)`);
  assert.ok(aOnInet <= 2, `and not on the internet path (${aOnInet})`);

  const tb = wallMs();
  const b = await VoiceFlow.start(p, lab, { from: 'host1', to: 'host2', toAddress: '10.2.0.10', port: 20002 });
  flows.push(b);
  await sleep(500);
  const s2 = await edge1();
  await sleep(2000);
  const s3 = await edge1();
  const mplsNow = tx(s3, mpls) - tx(s2, mpls), inetNow = tx(s3, inet) - tx(s2, inet);
  assert.ok(inetNow >= 80, `the new flow goes out on the internet path (${inetNow} packets in 2 s)`);
  assert.ok(mplsNow >= 80 && mplsNow <= 120, `the old flow alone stays on MPLS (${mplsNow} packets in 2 s)`);
  assert.ok(b.since(tb).length >= 100, `the new flow arrives (${b.since(tb).length} packets)`);
  assert.is(lost(a.arrivals.filter((x) => x.recv >= tb - 4000)), 0, 'the running flow lost nothing across the change');
});

test.run();

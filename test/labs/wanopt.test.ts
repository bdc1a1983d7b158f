// timeout: 240
// WAN-opt between twin edges on labs/wanopt-two-site (edge1's MPLS link: 20 Mbit/s, 20 ms one way). A host
// sends a file to the other host over plain TCP (the hosts need no configuration): the edges' LAN programs
// hand the `files` class to the stack, TPROXY gives it to the proxy, and the peer edge delivers it. Checks
// byte-exact delivery, that the same file again sends far fewer bytes on the WAN interface, that other
// flows are not intercepted, and that the FEC class keeps its loss far below a plain UDP flow's under 5 %
// loss on the primary. Run under `flock /tmp/pt-heavy.lock`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentRequest } from '../../dataplane/index.ts';
import { getProvider, type NetnsProvider } from '../../twin/index.ts';
import { bringUp, prepareLab } from '../../controller/cli/twin.ts';
import { mixedFile, transfer, txBytes, udpRun } from '../../labs/wanopt-two-site/traffic.ts';

const p = getProvider('netns') as NetnsProvider;
const lab = `wo${process.pid}`;
const quiet = { write: () => true } as unknown as NodeJS.WritableStream;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const status = async (node: string) => (await agentRequest(p.agentSocket(lab, node), 'GET', '/status')).body as any;
const tmp = mkdtempSync('/tmp/pt-wanopt-');
const file = join(tmp, 'mixed.bin');
const data = mixedFile(6_000_000, 42);
const sha = createHash('sha256').update(data).digest('hex');

test.before(async () => {
  writeFileSync(file, data);
  await bringUp(p, prepareLab('labs/wanopt-two-site/lab.yaml', { name: lab }), { out: quiet });
  // Every class prefers MPLS; wait until steering has it (probes must see the path up first).
  for (let i = 0; i < 150; i++) {
    const st = await status('edge1');
    const mpls = st.paths?.find((x: any) => x.transport === 'mpls')?.id;
    if (mpls !== undefined && st.steering?.find((s: any) => s.appClass === 'files')?.pathIds[0] === mpls) return;
    await sleep(200);
  }
  throw new Error('steering never chose the MPLS path for the files class');
});
test.after(async () => { await p.destroy(lab); rmSync(tmp, { recursive: true, force: true }); });

test('a file crosses the WAN-opt proxy byte-exact, and the same file again sends far fewer WAN bytes', async () => {
  const wan: number[] = [];
  for (let round = 0; round < 2; round++) {
    const before = await txBytes(p, lab, 'edge1', 'wan0');
    const { sink, sender } = await transfer(lab, 5001, file);
    wan.push((await txBytes(p, lab, 'edge1', 'wan0')) - before);
    assert.is(sink.bytes, data.length, `round ${round}: bytes received`);
    assert.is(sink.sha, sha, `round ${round}: received byte-exact`);
    assert.is(sender.reply, sha, `round ${round}: the sink's answer came back through the proxy`);
  }
  const [e1, e2] = [await status('edge1'), await status('edge2')];
  assert.is(e1.wanopt.error, null);
  assert.is(e1.wanopt.proxy.flowsIntercepted, 2, 'edge1 intercepted both transfers');
  assert.is(e2.wanopt.proxy.flowsAccepted, 2, 'edge2 delivered both to the original destination');
  assert.is(e1.wanopt.proxy.flowsFailed, 0);
  assert.ok(wan[1]! < wan[0]! / 5, `repeat: ${wan[1]} WAN bytes vs ${wan[0]} the first time`);
});

test('a TCP flow outside the WAN-opt classes is not intercepted and arrives byte-exact over the overlay', async () => {
  const before = (await status('edge1')).wanopt.proxy.flowsIntercepted;
  const { sink } = await transfer(lab, 5201, file);
  assert.is(sink.sha, sha);
  assert.is((await status('edge1')).wanopt.proxy.flowsIntercepted, before, 'no new interception');
});

test('with 5 % loss on the primary, the FEC class loses far fewer packets than plain UDP', async () => {
  await p.setImpairment(lab, 'edge1:wan0', { delay: 20, rate: 20e6, loss: 0.05 } as any);
  try {
    const fec = await udpRun(lab, 6000, 3000, 500);
    const plain = await udpRun(lab, 7000, 3000, 500);
    const st = (await status('edge2')).wanopt.fec;
    assert.ok(st.recovered > 0, `the receiving edge rebuilt packets from parity (${JSON.stringify(st)})`);
    assert.ok(plain.loss > 0.02, `plain UDP sees the loss (${plain.loss})`);
    assert.ok(fec.loss < 0.01 && fec.loss < plain.loss / 4, `FEC residual ${fec.loss} vs plain ${plain.loss}`);
  } finally {
    await p.setImpairment(lab, 'edge1:wan0', { delay: 20, rate: 20e6 } as any);
  }
});

test.run();

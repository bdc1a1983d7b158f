// timeout: 120
// The agent writes BGP batches into the FIB incrementally (dataplane/agent/kernel-routes.ts
// KernelRouteWriter, overlay.ts incremental sync): after a table of 300 prefixes from BIRD is installed,
// a batch that adds or withdraws one prefix writes exactly one kernel route and one overlay map entry.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { agentRequest } from '../../dataplane/agent/index.ts';
import { getProvider, routerSocket } from '../../twin/index.ts';
import { bringUp, prepareLab } from '../../controller/cli/twin.ts';

const N = 300;
const p = getProvider('netns');
const lab = `bgw${process.pid}`;
const prepared = prepareLab('labs/bgp-edge/lab.yaml', { name: lab });
prepared.lab.nodes.isp!.router!.networks.push(...Array.from({ length: N }, (_, i) => `20.${i >> 8}.${i & 255}.0/24`));
const birdSock = routerSocket(lab, prepared.lab.nodes.isp!);
const birdConf = join(dirname(birdSock), 'bird.conf');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const status = async () => (await agentRequest(p.agentSocket(lab, 'edge1'), 'GET', '/status', undefined, 5000)).body;
const kernelCount = async () => (await p.exec(lab, 'edge1', ['ip', 'route', 'show', 'proto', '250'])).stdout.split('\n').filter((l) => /^20\.\d+\.\d+\.0\/24 /.test(l)).length;

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms (routes ${JSON.stringify((await status().catch(() => ({})))?.routes?.lastWrite)})`);
    await sleep(100);
  }
}

/** Reconfigure BIRD with or without one more static route (BIRD sends one UPDATE / one withdrawal). */
function birdExtra(on: boolean, base: string): void {
  writeFileSync(birdConf, on ? `${base}protocol static extra { ipv4; route 198.18.0.0/24 unreachable; }\n` : base);
  execFileSync('birdc', ['-s', birdSock, 'configure']);
}

test.after(async () => { await p.destroy(lab); });

test('a BGP batch adding or withdrawing one prefix writes one kernel route and one overlay entry, not the table', async () => {
  await bringUp(p, prepared, { out: new Writable({ write: (_c, _e, cb) => cb() }) });
  await waitFor('table installed', async () => (await kernelCount()) === N, 60_000);
  await sleep(300); // let the last batch's write settle
  const before = await status();
  assert.ok(before.routes.installed >= N);
  const base = readFileSync(birdConf, 'utf8');

  birdExtra(true, base);
  await waitFor('extra prefix installed', async () => /via 10\.255\.0\.2 dev wan0/.test((await p.exec(lab, 'edge1', ['ip', 'route', 'show', '198.18.0.0/24', 'proto', '250'])).stdout), 15_000);
  const added = await status();
  assert.equal({ ...added.routes.lastWrite, ms: 0 }, { mode: 'diff', replaced: 1, added: 1, deleted: 0, ms: 0 });
  assert.ok(added.overlay, 'the twin runs the overlay data plane (tc)');
  assert.equal(added.overlay.writes, { updated: 1, deleted: 0, incremental: true });
  assert.is(added.routes.installed, before.routes.installed + 1);

  birdExtra(false, base);
  await waitFor('extra prefix withdrawn', async () => (await p.exec(lab, 'edge1', ['ip', 'route', 'show', '198.18.0.0/24', 'proto', '250'])).stdout.trim() === '', 15_000);
  const removed = await status();
  assert.equal({ ...removed.routes.lastWrite, ms: 0 }, { mode: 'diff', replaced: 0, added: 0, deleted: 1, ms: 0 });
  assert.equal(removed.overlay.writes, { updated: 0, deleted: 1, incremental: true });
  assert.is(await kernelCount(), N, 'the rest of the table untouched');
});

test.run();

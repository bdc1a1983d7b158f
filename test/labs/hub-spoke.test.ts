// timeout: 150
// Lab labs/hub-spoke: a hub and three branches on MPLS and a BGP-routed internet (two BIRD ISPs).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { getProvider } from '../../twin/index.ts';
import { bringUp, prepareLab } from '../../controller/cli/twin.ts';

const p = getProvider('netns');
const lab = `hs${process.pid}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quiet = { write: () => true } as unknown as NodeJS.WritableStream;
const ping = async (node: string, to: string) => (await p.exec(lab, node, ['ping', '-c1', '-W1', to])).code === 0;

test.after(async () => { await p.destroy(lab); });

test('deploys with its intent: every edge holds a bundle compiled for it', async () => {
  const prepared = prepareLab('labs/hub-spoke/lab.yaml', { name: lab });
  assert.equal([...prepared.bundles.keys()], ['br1', 'br2', 'br3', 'hub']);
  await bringUp(p, prepared, { out: quiet });
  const st = await p.inspect(lab);
  for (const n of st.nodes.filter((x) => x.kind === 'edge')) {
    assert.is((n.agent as any).bundle.hash, prepared.bundles.get(n.name)!.hash, `${n.name} applied its bundle`);
  }
});

test('the ISPs peer over eBGP and carry the internet underlay between them', async () => {
  let states: string[] = [];
  for (let i = 0; i < 100; i++) {
    states = (await p.inspect(lab)).nodes.filter((n) => n.router).flatMap((n) => n.router!.sessions.map((s) => s.state));
    if (states.every((s) => s === 'Established')) break;
    await sleep(200);
  }
  assert.equal(states, ['Established', 'Established']);
  let ok = false;
  for (let i = 0; i < 20 && !ok; i++) ok = await ping('hub', '100.64.2.6');
  assert.ok(ok, 'hub reaches br3 on ISP-B through BGP');
  assert.match((await p.exec(lab, 'isp-a', ['ip', 'route', 'show', '100.64.2.4/30'])).stdout, /via 198\.51\.100\.2 dev core proto bird/);
  assert.match((await p.exec(lab, 'hub', ['ip', 'route', 'get', '100.64.2.6'])).stdout, /via 100\.64\.1\.1 dev wan1/);
});

test('branches reach the hub directly and each other through the hub (hub-spoke backhaul)', async () => {
  assert.ok(await ping('h1', '10.0.0.10'));
  const r = await p.exec(lab, 'h1', ['ping', '-c1', '-W1', '10.3.0.10']);
  assert.is(r.code, 0);
  // h1 → br1 → hub → br3 → h3: three forwarding hops take the TTL from 64 to 61.
  assert.match(r.stdout, /ttl=61/);
  assert.match((await p.exec(lab, 'br1', ['ip', 'route', 'show', '10.3.0.0/24'])).stdout, /via 172\.16\.0\.1 dev wan0/);
});

test('destroy leaves nothing behind', async () => {
  const r = await p.destroy(lab);
  assert.is(r.namespaces.length, 11);
  assert.is(r.processes, 6);
  assert.equal(execFileSync('ip', ['netns', 'list']).toString().split('\n').filter((l) => l.startsWith(`pt.${lab}.`)), []);
  assert.not.ok(existsSync(`/run/patronus/${lab}`));
});

test.run();

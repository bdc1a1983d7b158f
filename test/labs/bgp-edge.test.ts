// timeout: 150
// Lab labs/bgp-edge: the edge agent's BGP speaker (configured from its bundle) peers with a BIRD ISP router,
// learns the network behind it, installs it through the route merge (kernel proto 250) so the LAN host
// reaches the host behind the router, and removes it when BIRD withdraws.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { agentRequest } from '../../dataplane/agent/index.ts';
import { getProvider, routerSocket } from '../../twin/index.ts';
import { bringUp, prepareLab } from '../../controller/cli/twin.ts';

const p = getProvider('netns');
const lab = `bge${process.pid}`;
const prepared = prepareLab('labs/bgp-edge/lab.yaml', { name: lab });
const birdSock = routerSocket(lab, prepared.lab.nodes.isp!);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const status = async () => (await agentRequest(p.agentSocket(lab, 'edge1'), 'GET', '/status', undefined, 3000)).body;
const bgpRoutes = async () => (await agentRequest(p.agentSocket(lab, 'edge1'), 'GET', '/bgp/routes', undefined, 3000)).body;
const kernelRoute = async (prefix: string) => (await p.exec(lab, 'edge1', ['ip', 'route', 'show', prefix, 'proto', '250'])).stdout.trim();
const ping = async () => (await p.exec(lab, 'host1', ['ping', '-c1', '-W1', '192.168.50.10'])).code === 0;
const cli = (...args: string[]) => spawnSync(process.execPath, ['bin/patronus.js', ...args], { encoding: 'utf8', timeout: 30_000 });
const birdc = (...args: string[]) => execFileSync('birdc', ['-s', birdSock, ...args]).toString();

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms (bgp ${JSON.stringify((await status().catch(() => ({})))?.bgp)})`);
    await sleep(100);
  }
  return Date.now() - t0;
}

test.after(async () => { await p.destroy(lab); });

test('the edge bundle carries the BGP section and the agent establishes the session with BIRD', async () => {
  const bgp = prepared.bundles.get('edge1')!.bundle.bgp;
  assert.is(bgp.asn, 65010);
  assert.equal(bgp.networks, [{ prefix: '10.1.0.0/24', segment: 'default' }]);
  await bringUp(p, prepared, { out: new Writable({ write: (_c, _e, cb) => cb() }) });
  const ms = await waitFor('session established', async () => (await status()).bgp?.neighbors[0]?.state === 'Established', 20_000);
  console.log(`  established ${ms} ms after the bundle`);
  const birdSessions = (await p.inspect(lab)).nodes.find((n) => n.name === 'isp')!.router!.sessions;
  assert.equal(birdSessions.map((s) => s.state), ['Established']);
});

test('the edge learns the prefixes behind the router and installs them with proto 250', async () => {
  await waitFor('prefixes learned', async () => (await status()).bgp.routes >= 2, 10_000);
  await waitFor('kernel route', async () => /via 10\.255\.0\.2 dev wan0/.test(await kernelRoute('192.168.50.0/24')), 5_000);
  assert.match(await kernelRoute('198.51.100.0/24'), /via 10\.255\.0\.2 dev wan0/);
  const s = (await status()).bgp;
  const n = s.neighbors[0];
  assert.equal({ address: n.address, asn: n.asn, received: n.received, accepted: n.accepted }, { address: '10.255.0.2', asn: 65001, received: 2, accepted: 2 });
  const r = await bgpRoutes();
  assert.equal(r.installed.map((x: { prefix: string; kind: string; dev: string }) => `${x.prefix} ${x.kind} ${x.dev}`).sort(), ['192.168.50.0/24 internet wan0', '198.51.100.0/24 internet wan0']);
  assert.equal(r.skipped, []);
  // BIRD learned the edge's LAN from the edge's speaker.
  assert.match((await p.exec(lab, 'isp', ['ip', 'route', 'show', '10.1.0.0/24'])).stdout, /via 10\.255\.0\.1 dev eth1 proto bird/);
});

test('the LAN host reaches the host behind the router over the BGP route', async () => {
  await waitFor('host1 reaches host2', ping, 10_000);
  const r = await p.exec(lab, 'host1', ['ping', '-c', '3', '-i', '0.2', '-W', '2', '192.168.50.10']);
  assert.match(r.stdout, /3 packets transmitted, 3 received/);
});

test('patronus bgp neighbors and routes show the session and the installed routes', () => {
  const n = cli('bgp', 'neighbors', lab, 'edge1');
  assert.is(n.status, 0, n.stderr);
  assert.match(n.stdout, /AS 65010, router id 10\.255\.0\.1/);
  assert.match(n.stdout, /10\.255\.0\.2 +65001 +default +Established/);
  const r = cli('bgp', 'routes', lab, 'edge1');
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, /192\.168\.50\.0\/24 +10\.255\.0\.2 +eBGP 10\.255\.0\.2 +installed \(internet via wan0\)/);
  assert.match(r.stdout, /10\.1\.0\.0\/24 .* originated/);
  assert.is(cli('bgp', 'peers', lab, 'edge1').status, 2);
});

test('BIRD disabling the session withdraws the routes from the edge kernel; enabling restores them', async () => {
  birdc('disable', 'peer1');
  const ms = await waitFor('route withdrawn', async () => (await kernelRoute('192.168.50.0/24')) === '', 10_000);
  console.log(`  kernel route gone ${ms} ms after birdc disable`);
  assert.is(await kernelRoute('198.51.100.0/24'), '');
  assert.is((await status()).bgp.routes, 0);
  assert.not.ok(await ping());
  birdc('enable', 'peer1');
  await waitFor('route back', async () => /via 10\.255\.0\.2/.test(await kernelRoute('192.168.50.0/24')), 20_000);
  await waitFor('host1 reaches host2 again', ping, 10_000);
});

test.run();

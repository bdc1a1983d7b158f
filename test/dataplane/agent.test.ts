// timeout: 90
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { agentCommand, agentRequest, contentHash, RTPROT_PATRONUS } from '../../dataplane/index.ts';
import { getProvider, loadLab, nsName } from '../../twin/index.ts';
import { edge1Bundle } from './bundle-fixture.ts';

const p = getProvider('netns');
const lab = `ta${process.pid}`;
const sock = () => p.agentSocket(lab, 'edge1');
// `ip route show proto N` omits the proto it filters on.
const routes = async () => (await p.exec(lab, 'edge1', ['ip', 'route', 'show', 'proto', String(RTPROT_PATRONUS)])).stdout.split('\n').map((l) => l.trim()).filter(Boolean);

test.before(async () => { await p.deploy(loadLab('labs/two-site-dual-wan/lab.yaml', { rename: lab })); });
test.after(async () => { await p.destroy(lab); });

test('a fresh agent answers its status with no bundle', async () => {
  const r = await agentRequest(sock(), 'GET', '/status');
  assert.is(r.status, 200);
  assert.is(r.body.node, 'edge1');
  assert.is(r.body.bundle, null);
});

test('a pushed bundle is applied to the kernel and reported with its content hash', async () => {
  const b = edge1Bundle();
  const r = await agentRequest(sock(), 'PUT', '/bundle', b);
  assert.is(r.status, 200);
  assert.is(r.body.hash, contentHash(b));
  assert.equal(await routes(), ['10.2.0.0/24 via 172.16.0.2 dev wan0', 'blackhole 10.66.0.0/16', '100.64.0.6 via 100.64.0.1 dev wan1']);
  const st = (await agentRequest(sock(), 'GET', '/status')).body;
  assert.is(st.bundle.hash, contentHash(b));
  assert.is(st.bundle.source, 'pushed');
  assert.is(st.routes.installed, 3);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function statusUntil(cond: (st: any) => boolean, what: string, ms = 10_000): Promise<any> {
  let st: any;
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) {
    st = (await agentRequest(sock(), 'GET', '/status')).body;
    if (cond(st)) return st;
  }
  throw new Error(`${what}: not within ${ms} ms; paths ${JSON.stringify(st?.paths)}`);
}

test('the agent probes its paths and steers each class onto a live one', async () => {
  const st = await statusUntil((s) => s.paths.length === 2 && s.paths.every((p: any) => p.state === 'up'), 'both paths up');
  assert.equal(st.paths.map((p: any) => [p.id, p.transport]), [[1, 'inet'], [2, 'mpls']]);
  for (const p of st.paths) assert.ok(p.rttMs > 0 && p.rttMs < 50, `path ${p.id} rtt ${p.rttMs}`);
  // The fixture's rule prefers inet; if mpls came up first, steering fails back after its hold-down.
  const row = (s: any) => s.steering.find((r: any) => r.appClass === 'default' && r.site === 's2');
  const steered = await statusUntil((s) => row(s)?.pathIds[0] === 1, 'steered to inet', 20_000);
  assert.equal(row(steered).pathIds, [1]);
});

test('a cut inside the internet cloud takes the inet path down and steering moves to mpls', async () => {
  await p.setLinkState(lab, 'inet:p2', 'down');
  try {
    const st = await statusUntil((s) => s.paths.find((x: any) => x.id === 1).state === 'down', 'inet path down');
    const row = (await statusUntil((s) => s.steering.find((r: any) => r.appClass === 'default').pathIds[0] === 2, 'steered to mpls')).steering;
    assert.equal(row.find((r: any) => r.appClass === 'default').pathIds, [2]);
    assert.ok(st.events.recent.some((e: any) => e.type === 'path' && e.path === 1 && e.to === 'down'));
  } finally {
    await p.setLinkState(lab, 'inet:p2', 'up');
  }
  await statusUntil((s) => s.paths.every((x: any) => x.state === 'up'), 'inet path back up', 15_000);
});

test('an invalid bundle is refused with the key path and changes nothing', async () => {
  const before = await routes();
  const b = edge1Bundle() as any;
  b.paths[0].remoteAddress = 'not-an-ip';
  const r = await agentRequest(sock(), 'PUT', '/bundle', b);
  assert.is(r.status, 400);
  assert.match(r.body.error, 'paths[0].remoteAddress: expected an IPv4 or IPv6 address');
  const wrong = { ...edge1Bundle(), node: 'edge2' };
  const r2 = await agentRequest(sock(), 'PUT', '/bundle', wrong);
  assert.is(r2.status, 400);
  assert.match(r2.body.error, 'node: bundle is for node "edge2", this agent is "edge1"');
  assert.equal(await routes(), before);
});

test('an update removes routes no longer wanted without touching others', async () => {
  const b = edge1Bundle();
  b.segments[0]!.routes = b.segments[0]!.routes.filter((r) => r.kind !== 'drop');
  assert.is((await agentRequest(sock(), 'PUT', '/bundle', b)).status, 200);
  assert.not.ok((await routes()).some((l) => l.includes('blackhole')));
  assert.ok((await routes()).some((l) => l.startsWith('10.2.0.0/24')));
});

test('forwarding survives an agent restart and the new agent re-applies the last-good bundle', async () => {
  const st = await p.inspect(lab);
  const pid = st.nodes.find((n) => n.name === 'edge1')!.processes[0]!.pid;
  const hash = (await agentRequest(sock(), 'GET', '/status')).body.bundle.hash;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && (await p.inspect(lab)).nodes.find((n) => n.name === 'edge1')!.processes.length; i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok((await routes()).some((l) => l.startsWith('10.2.0.0/24')), 'routes stay while the agent is down');
  const dir = sock().replace(/\/agent\.sock$/, '');
  const argv = ['ip', 'netns', 'exec', nsName(lab, 'edge1'), ...agentCommand(['--node', 'edge1', '--state-dir', dir, '--socket', sock()])];
  spawn(argv[0]!, argv.slice(1), { detached: true, stdio: 'ignore' }).unref();
  let body: any;
  for (let i = 0; i < 100 && !body; i++) {
    try { body = (await agentRequest(sock(), 'GET', '/status', undefined, 500)).body; } catch { await new Promise((r) => setTimeout(r, 50)); }
  }
  assert.is(body.bundle.hash, hash);
  assert.is(body.bundle.source, 'last-good');
});

test.run();

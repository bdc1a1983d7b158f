// timeout: 90
/**
 * A real edge against a real controller, each in its own network namespace joined by a veth pair: the
 * controller is `patronus controller serve` (dist/patronus.js), the edge is the agent bundle (dist/edge.js)
 * started with `--controller … --enrol-token …`. The edge enrols, receives version 1 and acks it; version 2
 * adds a path to a peer that can never answer, so the edge's commit-confirmed check fails, it reverts to
 * version 1 by itself and acks ok:false with the reason. Run under `flock /tmp/pt-heavy.lock`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentRequest, BUNDLE_API_VERSION, packageRoot, signBundle, type Bundle } from '../../dataplane/index.ts';
import { openStore, stateFiles, type Store } from '../../controller/store/index.ts';
import { loadOrCreateSigningKey } from '../../controller/versions/index.ts';
import { setDesired } from '../../controller/edgeapi/index.ts';
import { netnsProcs } from './netns-procs.ts';

const id = `pte${process.pid}`;
const nsC = `pt.${id}.ctl`, nsE = `pt.${id}.edge`;
const vC = `${id}c`.slice(0, 15), vE = `${id}e`.slice(0, 15);
const net = `100.127.${process.pid % 250}`;
const ctlAddr = `${net}.1`, edgeAddr = `${net}.2`;
const dir = mkdtempSync(join(tmpdir(), 'pt-enrol-'));
const state = join(dir, 'controller'), edgeDir = join(dir, 'edge1');
const { children, logs, sh, start, until } = netnsProcs(15);
let store: Store;

/** A bundle that fits the edge namespace: one WAN (the veth), no LAN; `peerPath` adds a probed path to a peer that does not exist. */
function bundle(intent: string, peerPath: boolean): Bundle {
  return {
    apiVersion: BUNDLE_API_VERSION, node: 'edge1', site: 's1', siteId: 1, intent,
    interfaces: { wan: [{ name: vE, transport: 'inet', ipv4: [`${edgeAddr}/30`], mtu: 1500, role: 'active', metered: false, bandwidthUp: 0, bandwidthDown: 0 }], lan: [] },
    segments: [{ name: 'default', id: 1, routes: [] }],
    paths: peerPath ? [{
      id: 1, peerNode: 'edge2', peerSite: 's2', peerSiteId: 2, transport: 'inet', remoteTransport: 'inet', localInterface: vE,
      localAddress: edgeAddr, remoteAddress: `${net}.3`, mtu: 1500, role: 'active', probe: true,
    }] : [],
    classifier: [], rules: [], slaClasses: [], qosClasses: [], bgp: {}, wanopt: {},
  } as Bundle;
}

test.before(() => {
  for (const f of ['dist/patronus.js', 'dist/edge.js']) if (!existsSync(join(packageRoot(), f))) throw new Error(`${f} missing: run node scripts/build.mjs`);
  sh(['ip', 'netns', 'add', nsC]);
  sh(['ip', 'netns', 'add', nsE]);
  sh(['ip', 'link', 'add', vC, 'netns', nsC, 'type', 'veth', 'peer', 'name', vE, 'netns', nsE]);
  sh(['ip', '-n', nsC, 'addr', 'add', `${ctlAddr}/30`, 'dev', vC]);
  sh(['ip', '-n', nsE, 'addr', 'add', `${edgeAddr}/30`, 'dev', vE]);
  for (const [ns, dev] of [[nsC, vC], [nsE, vE]] as const) { sh(['ip', '-n', ns, 'link', 'set', dev, 'up']); sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']); }
});

test.after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await store?.close();
  spawnSync('ip', ['netns', 'del', nsE]);
  spawnSync('ip', ['netns', 'del', nsC]);
  rmSync(dir, { recursive: true, force: true });
});

test('an edge in its own namespace enrols, applies and acks a bundle, and reverts one that fails commit-confirmed', async () => {
  const cli = join(packageRoot(), 'dist', 'patronus.js');
  const token = sh([process.execPath, cli, 'controller', 'enrol-token', 'edge1', '--site', 's1', '--state', state]).trim();
  start(nsC, [cli, 'controller', 'serve', '--state', state, '--listen', `${ctlAddr}:8443`]);
  store = await openStore(stateFiles(state).store);
  const key = loadOrCreateSigningKey(state).privateKey;
  await until('controller listening', 15_000, async () => (logs.some((l) => l.includes('edge API on')) ? true : undefined));

  const good = signBundle(bundle('enrol-v1', false), key), bad = signBundle(bundle('enrol-v2', true), key);
  const v1 = await store.insertVersion({ parent: null, author: 'test', message: 'v1', intentYaml: 'v1', intentHash: 'h1' }, [{ edge: 'edge1', hash: good.hash, envelope: good }]);
  const v2 = await store.insertVersion({ parent: v1.id, author: 'test', message: 'v2', intentYaml: 'v2', intentHash: 'h2' }, [{ edge: 'edge1', hash: bad.hash, envelope: bad }]);
  await setDesired(store, ['edge1'], v1.id);

  start(nsE, [join(packageRoot(), 'dist', 'edge.js'), '--node', 'edge1', '--state-dir', edgeDir, '--controller', `https://${ctlAddr}:8443`,
    '--enrol-token', token, '--commit-confirm', '4000', '--health-interval', '500', '--probe-interval', '50']);
  const socket = join(edgeDir, 'agent.sock');

  const enrolled = await until('enrolment', 20_000, async () => (await store.getEdge('edge1'))?.enrolledAt ?? undefined);
  assert.ok(enrolled);
  const inv = (await store.getEdge('edge1'))!.inventory as { interfaces: { name: string; ipv4: string[] }[] };
  assert.equal(inv.interfaces.find((i) => i.name === vE)?.ipv4, [`${edgeAddr}/30`], 'inventory from the edge namespace');

  const applied = await until('ack of version 1', 20_000, async () => {
    const e = await store.getEdge('edge1');
    return e?.appliedHash === good.hash ? e : undefined;
  });
  assert.is(applied.appliedVersion, v1.id);
  assert.is((await agentRequest(socket, 'GET', '/status')).body.bundle.hash, good.hash);

  await setDesired(store, ['edge1'], v2.id);
  // The edge applies v2, finds no path to edge2 up within 4 s, reverts and says why.
  const nack = await until('ok:false ack of version 2', 30_000, async () =>
    (await store.listAudit({ action: 'bundle.ack', outcome: 'error' })).find((a) => (a.detail as { hash: string }).hash === bad.hash));
  const reason = (nack.detail as { reason: string }).reason;
  assert.match(reason, /commit-confirmed failed/);
  assert.match(reason, /no path to edge2 is up/);
  assert.match(reason, /reverted to last-good/);
  const st = (await agentRequest(socket, 'GET', '/status')).body;
  assert.is(st.bundle.hash, good.hash, 'the agent runs version 1 again');
  assert.is(st.bundle.source, 'last-good');
  assert.is((await store.getEdge('edge1'))?.appliedHash, good.hash);
  // The next health report carries the commit-confirmed result.
  const cc = await until('commit-confirmed result in health', 10_000, async () => {
    const h = (await store.getEdge('edge1'))?.health as { commitConfirmed?: { ok: boolean; hash: string } } | null;
    return h?.commitConfirmed?.hash === bad.hash ? h.commitConfirmed : undefined;
  });
  assert.is(cc.ok, false);
});

test.run();

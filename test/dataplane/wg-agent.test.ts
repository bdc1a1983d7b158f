// timeout: 60
/**
 * dataplane/agent/wg.ts against real WireGuard devices in two test namespaces: a bundle's encrypted path
 * gets a configured device (the two ends ping over their tunnel addresses, status shows the handshake and
 * bytes), a bundle without the peer's key leaves the device without peer, a bundle without the path removes
 * the device (link, daemon, pid file) and status goes back to null; a second agent on the same state
 * directory adopts a running device instead of replacing it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentWireguard } from '../../dataplane/agent/wg.ts';
import { Bundle, BUNDLE_API_VERSION } from '../../dataplane/index.ts';

const tag = `pwa${process.pid.toString(36)}`;
const nsA = `pt.${tag}.a`, nsB = `pt.${tag}.b`;
const dir = mkdtempSync(join(tmpdir(), 'pt-wga-'));
const ip = (...a: string[]) => execFileSync('ip', a, { encoding: 'utf8' });
const a = new AgentWireguard(join(dir, 'a'), { netns: nsA }), b = new AgentWireguard(join(dir, 'b'), { netns: nsB });

test.after(async () => {
  await a.removeAll().catch(() => {});
  await b.removeAll().catch(() => {});
  for (const ns of [nsA, nsB]) { try { ip('netns', 'del', ns); } catch { /* absent */ } }
  rmSync(dir, { recursive: true, force: true });
});

/** One edge with one encrypted path to the other (addresses on a shared veth). */
function bundle(side: 'a' | 'b', peerKey: string | undefined, encrypted = true): Bundle {
  const [me, peer, addr, peerAddr] = side === 'a' ? ['a', 'b', '192.0.2.1', '192.0.2.2'] : ['b', 'a', '192.0.2.2', '192.0.2.1'];
  return Bundle.parse({
    apiVersion: BUNDLE_API_VERSION, node: `edge-${me}`, site: `s${me}`, siteId: side === 'a' ? 1 : 2, intent: 'wg-agent',
    interfaces: { wan: [{ name: 'u0', transport: 'inet', ipv4: [`${addr}/24`], mtu: 1500, role: 'active', metered: false, bandwidthUp: 0, bandwidthDown: 0 }], lan: [] },
    segments: [],
    paths: [{ id: 1, peerNode: `edge-${peer}`, peerSite: `s${peer}`, peerSiteId: side === 'a' ? 2 : 1, transport: 'inet', remoteTransport: 'inet',
      localInterface: 'u0', localAddress: addr, remoteAddress: peerAddr, mtu: 1500, role: 'active', probe: true, peerPathId: 1,
      ...(encrypted ? { wireguard: { listenPort: 51821, peerPort: 51821, ...(peerKey ? { peerPublicKey: peerKey } : {}),
        address: side === 'a' ? '169.254.3.0' : '169.254.3.1', peerAddress: side === 'a' ? '169.254.3.1' : '169.254.3.0' } } : {}) }],
    classifier: [], rules: [], slaClasses: [], qosClasses: [], bgp: {}, wanopt: {},
  });
}

test('an encrypted path gets a configured device and the two ends talk over their tunnel addresses', async () => {
  ip('netns', 'add', nsA); ip('netns', 'add', nsB);
  ip('-n', nsA, 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u0', 'netns', nsB);
  ip('-n', nsA, 'addr', 'add', '192.0.2.1/24', 'dev', 'u0'); ip('-n', nsB, 'addr', 'add', '192.0.2.2/24', 'dev', 'u0');
  for (const ns of [nsA, nsB]) { ip('-n', ns, 'link', 'set', 'u0', 'up'); ip('-n', ns, 'link', 'set', 'lo', 'up'); }
  assert.is(a.status(), null, 'no encrypted path yet');
  await a.apply(bundle('a', b.publicKey()));
  await b.apply(bundle('b', a.publicKey()));
  assert.is(a.lastError(), null);
  const dev = a.device(1)!;
  assert.match(dev, /^ptw[0-9a-f]{12}$/);
  assert.match(ip('-n', nsA, '-o', 'addr', 'show', 'dev', dev), /169\.254\.3\.0\/31/);
  assert.match(ip('-n', nsA, 'link', 'show', 'dev', dev), /mtu 1440/);
  const out = execFileSync('ip', ['netns', 'exec', nsA, 'ping', '-c', '2', '-i', '0.2', '-W', '2', '169.254.3.1'], { encoding: 'utf8' });
  assert.match(out, /2 packets transmitted, 2 received/);
  const st = a.status()!;
  assert.ok(['kernel', 'wireguard-go'].includes(st.impl!));
  assert.is(st.publicKey, a.publicKey());
  assert.is(st.devices.length, 1);
  const d = st.devices[0]!;
  assert.is(d.device, dev);
  assert.is(d.endpoint, '192.0.2.2:51821');
  assert.ok(d.peerKnown);
  assert.ok(d.handshakeAgeS !== null && d.handshakeAgeS < 30);
  assert.ok(d.rxBytes > 0 && d.txBytes > 0);
  assert.not.ok(JSON.stringify(st).includes(readFileSync(join(dir, 'a', 'wg.key'), 'utf8').trim()), 'the private key is never in status');
});

test('a second agent on the same state directory adopts the running device', async () => {
  const pidFile = join(dir, 'a', 'wg', `${a.device(1)}.pid`);
  const pid = existsSync(pidFile) ? readFileSync(pidFile, 'utf8') : '';
  const again = new AgentWireguard(join(dir, 'a'), { netns: nsA });
  assert.is(again.publicKey(), a.publicKey(), 'the key is kept');
  await again.apply(bundle('a', b.publicKey()));
  assert.is(again.device(1), a.device(1));
  if (pid) assert.is(readFileSync(pidFile, 'utf8'), pid, 'same daemon');
  const out = execFileSync('ip', ['netns', 'exec', nsA, 'ping', '-c', '1', '-W', '2', '169.254.3.1'], { encoding: 'utf8' });
  assert.match(out, /1 received/);
});

test('without the peer\'s key the device has no peer; without the path it is removed', async () => {
  const dev = a.device(1)!;
  await a.apply(bundle('a', undefined));
  assert.not.ok(a.status()!.devices[0]!.peerKnown);
  assert.is(execFileSync('ip', ['netns', 'exec', nsA, 'wg', 'show', dev, 'peers'], { encoding: 'utf8' }).trim(), '');
  await a.apply(bundle('a', undefined, false));
  assert.is(a.status(), null);
  assert.is(a.device(1), undefined);
  assert.throws(() => ip('-n', nsA, 'link', 'show', 'dev', dev));
  assert.not.ok(existsSync(join(dir, 'a', 'wg', `${dev}.pid`)));
  assert.not.ok(existsSync(`/var/run/wireguard/${dev}.sock`));
});

test.run();

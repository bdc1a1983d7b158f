// timeout: 240
/**
 * Lab labs/encrypted-two-site, WireGuard key rotation (docs/overlay.md, "Key rotation"): while host1 pings
 * host2 every 10 ms across the encrypted internet path, edge1 and then edge2 rotate their keys — a second
 * tunnel per path beside the first, the path moved into it after its handshake, the old tunnel removed once
 * both ends had switched. Every echo request and reply arrives (ping counts both directions); after each
 * rotation both ends carry the path on a new device and the old devices, daemons and sockets are gone; at the
 * end each edge's device runs its new key (`wg show`), its peer holds the other's new key, and the old private
 * keys are gone. Run under `flock /tmp/pt-heavy.lock` (timing: probes, 10 ms pings).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bringUp, prepareLab, rotateWireguardKey, type KeyRotation } from '../../controller/cli/twin.ts';
import { getProvider } from '../../twin/index.ts';
import { nodeDir } from '../../twin/providers/netns/names.ts';
import { publicKeyOf } from '../../dataplane/wg/index.ts';
import { edgeStatus, pathId, txOn } from './edge-status.ts';
import { sleep } from '../../bench/lib/flow.ts';

const lab = `encrot${process.pid}`;
const p = await getProvider('netns');
const prepared = prepareLab('labs/encrypted-two-site/lab.yaml', { name: lab });
const e1 = edgeStatus(p, lab, 'edge1'), e2 = edgeStatus(p, lab, 'edge2');
const row = (st: any) => st.steering.find((r: any) => r.appClass === 'default');
const wg = async (node: string, ...args: string[]) => (await p.exec(lab, node, ['wg', ...args])).stdout.trim();
const linkExists = async (node: string, dev: string) => (await p.exec(lab, node, ['ip', 'link', 'show', 'dev', dev])).code === 0;
const daemonsOf = (dev: string) => readdirSync('/proc').filter((x) => /^\d+$/.test(x)).filter((pid) => {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(dev); } catch { return false; }
});

test.after(async () => { await p.destroy(lab); });

test('both edges rotate their keys under a 10 ms ping without losing a packet; the new keys are in use, the old ones gone', async () => {
  await bringUp(p, prepared, { out: { write: () => true } as any });
  const s1 = await e1.until('traffic on the encrypted internet path', 60_000, (s) => s.wireguard?.devices[0]?.handshakeAgeS != null && row(s)?.pathIds[0] === pathId(s, 'inet'));
  const s2 = await e2.until('edge2 on the encrypted internet path', 30_000, (s) => s.wireguard?.devices[0]?.handshakeAgeS != null && row(s)?.pathIds[0] === pathId(s, 'inet'));
  const old = { edge1: s1.wireguard, edge2: s2.wireguard };
  assert.is(old.edge1.keyGeneration, 0);
  const inet = pathId(s1, 'inet');
  const txBefore = txOn(s1, inet);

  const COUNT = 2000; // 20 s at 10 ms (more under load): room for both rotations (each waits for a handshake, then 1 s of drain)
  const t0 = Date.now();
  const ping = p.exec(lab, 'host1', ['ping', '-D', '-O', '-c', String(COUNT), '-i', '0.01', '-W', '2', '10.2.0.10'], { timeoutMs: 60_000 });
  await sleep(1000);
  const rotations: KeyRotation[] = [];
  // Each rotation leaves both ends on a new device (the other slot) and the previous ones removed.
  const removed = async (node: string, dev: string) => {
    assert.not.ok(await linkExists(node, dev), `${node}: ${dev} removed`);
    assert.not.ok(existsSync(`/var/run/wireguard/${dev}.sock`), `${dev}.sock removed`);
    assert.equal(daemonsOf(dev), [], `${dev}'s daemon stopped`);
  };
  let prev = [old.edge1.devices[0].device, old.edge2.devices[0].device];
  for (const node of ['edge1', 'edge2']) {
    rotations.push(await rotateWireguardKey(p, prepared, node));
    const now = [(await e1.get()).wireguard.devices[0].device, (await e2.get()).wireguard.devices[0].device];
    for (const [i, n] of ['edge1', 'edge2'].entries()) {
      assert.is.not(now[i], prev[i], `${n} carries the path on a new device after ${node}'s rotation`);
      await removed(n, prev[i]!);
    }
    prev = now;
  }
  const rotatedAt = Date.now() - t0;
  const out = (await ping).stdout;
  const pingMs = Date.now() - t0;
  // Unanswered requests with their send time (-D -O), next to the rotations' steps, for the record.
  const missing = out.split('\n').filter((l) => /no answer yet/.test(l));
  console.log(JSON.stringify({ rotations, rotatedAtMs: rotatedAt, pingMs, ping: out.split('\n').find((l) => /transmitted/.test(l)), missing }));
  assert.ok(rotatedAt < pingMs - 1000, `both rotations ended while the ping still ran (${rotatedAt} ms of ${pingMs} ms)`);
  assert.match(out, new RegExp(`${COUNT} packets transmitted, ${COUNT} received`), 'no echo request or reply lost');

  const a = (await e1.get()).wireguard, b = (await e2.get()).wireguard;
  // The pings took the tunnel, not the plaintext MPLS path.
  const end1 = await e1.get();
  const moved = JSON.stringify(end1.events).slice(-1500);
  assert.ok(txOn(end1, inet) >= txBefore + COUNT, `the LAN program sent the pings into the encrypted path: ${txOn(end1, inet) - txBefore} of ${COUNT} (events ${moved}; counters ${JSON.stringify(end1.overlay.counters)})`);
  for (const [node, st, before, rot] of [['edge1', a, old.edge1, rotations[0]!], ['edge2', b, old.edge2, rotations[1]!]] as const) {
    assert.is(st.publicKey, rot.publicKey, `${node} reports its new key`);
    assert.is(st.keyGeneration, 1);
    assert.is(st.nextPublicKey, undefined, `${node}'s rotation ended`);
    assert.is.not(st.publicKey, before.publicKey);
    assert.is(st.devices.length, 1, 'one tunnel per path again');
    const dev = st.devices[0];
    assert.is(dev.using, 'main');
    assert.ok(dev.handshakeAgeS !== null, 'the new tunnel has a handshake');
    assert.is(await wg(node, 'show', dev.device, 'public-key'), rot.publicKey, `${node}'s device runs the new key`);
    // The private key on disk is the new one; the old private key and the next-key file are gone.
    const dir = nodeDir(lab, node);
    assert.is(publicKeyOf(readFileSync(join(dir, 'wg.key'), 'utf8').trim()), rot.publicKey);
    assert.not.ok(existsSync(join(dir, 'wg.key.next')));
  }
  // Each end's one peer is the other's new key.
  assert.is(await wg('edge1', 'show', a.devices[0].device, 'peers'), b.publicKey);
  assert.is(await wg('edge2', 'show', b.devices[0].device, 'peers'), a.publicKey);
  // And traffic still flows through the new tunnels.
  const again = await p.exec(lab, 'host1', ['ping', '-c', '5', '-i', '0.1', '-W', '2', '10.2.0.10']);
  assert.match(again.stdout, /5 packets transmitted, 5 received/);
});

test.run();

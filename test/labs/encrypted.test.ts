// timeout: 120
/**
 * Lab labs/encrypted-two-site: the internet transport encrypted with one WireGuard tunnel per path, MPLS
 * plaintext. The bring-up collects the edges' public keys and compiles them into the bundles; host-to-host
 * traffic crosses the encrypted path; an AF_PACKET capture on the internet underlay sees only WireGuard UDP
 * between the edges' WAN addresses (no inner address or payload in clear); cutting the internet link fails
 * traffic over to plaintext MPLS and restoring it brings traffic back into the tunnel; an agent restart
 * adopts its running WireGuard daemon without losing a packet; the twin's destroy
 * leaves no WireGuard daemon, socket or device behind.
 * Run under `flock /tmp/pt-heavy.lock` (timing: probes, failover).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bringUp, prepareLab } from '../../controller/cli/twin.ts';
import { getProvider } from '../../twin/index.ts';
import { nodeDir } from '../../twin/providers/netns/names.ts';
import { edgeStatus, pathId, txOn } from './edge-status.ts';
import { sleep } from '../../bench/lib/flow.ts';

const lab = `enc${process.pid}`;
const p = await getProvider('netns');
const e1 = edgeStatus(p, lab, 'edge1'), e2 = edgeStatus(p, lab, 'edge2');
const row = (st: any) => st.steering.find((r: any) => r.appClass === 'default');
let devices: string[] = [];

test.after(async () => { await p.destroy(lab); });

/** AF_PACKET capture on `iface` of `node` for `seconds`: one JSON line per frame. */
const CAPTURE = `
import socket, sys, time, json
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0)); s.settimeout(0.2)
end = time.time() + float(sys.argv[2])
while time.time() < end:
    try: f = s.recv(65535)
    except socket.timeout: continue
    r = {"type": f[12:14].hex(), "len": len(f), "hex": f.hex()}
    if f[12:14] == b"\\x08\\x00":
        ihl = (f[14] & 15) * 4
        r.update(proto=f[23], src=socket.inet_ntoa(f[26:30]), dst=socket.inet_ntoa(f[30:34]))
        if f[23] == 17: r.update(sport=int.from_bytes(f[14+ihl:16+ihl], "big"), dport=int.from_bytes(f[16+ihl:18+ihl], "big"))
    print(json.dumps(r), flush=True)
`;

test('bring-up distributes the edges\' public keys and both ends of the encrypted path shake hands', async () => {
  await bringUp(p, prepareLab('labs/encrypted-two-site/lab.yaml', { name: lab }), { out: { write: () => true } as any });
  for (const [e, peer] of [[e1, e2], [e2, e1]] as const) {
    const st = await e.until('a WireGuard handshake', 20_000, (s) => s.wireguard?.devices[0]?.handshakeAgeS !== null && s.wireguard?.devices[0]?.handshakeAgeS !== undefined);
    const other = await peer.get();
    assert.ok(['kernel', 'wireguard-go'].includes(st.wireguard.impl));
    assert.is(st.wireguard.devices.length, 1, 'one device: only the internet path is encrypted');
    assert.is(st.wireguard.devices[0].path, pathId(st, 'inet'));
    assert.ok(st.wireguard.devices[0].peerKnown);
    assert.match(st.wireguard.devices[0].device, /^ptw[0-9a-f]{12}$/);
    assert.is.not(st.wireguard.publicKey, other.wireguard.publicKey);
    assert.is(st.lastError, null);
    devices.push(st.wireguard.devices[0].device);
  }
});

test('traffic takes the encrypted internet path, and the underlay carries only WireGuard UDP', async () => {
  const st = await e1.until('default steered onto the internet path', 40_000, (s) => row(s)?.pathIds[0] === pathId(s, 'inet'));
  await e2.until('edge2 steered onto the internet path', 20_000, (s) => row(s)?.pathIds[0] === pathId(s, 'inet'));
  const inet = pathId(st, 'inet');
  const before = txOn(st, inet);
  const cap = p.exec(lab, 'inet', ['/usr/bin/python3', '-c', CAPTURE, 'p1', '4'], { timeoutMs: 10_000 });
  await sleep(700);
  const ping = await p.exec(lab, 'host1', ['ping', '-c', '10', '-i', '0.1', '-W', '2', '-p', 'c0ffee5a', '10.2.0.10']);
  assert.match(ping.stdout, /10 packets transmitted, 10 received/);
  const frames = (await cap).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const ip4 = frames.filter((f) => f.type === '0800');
  assert.ok(ip4.length >= 20, `at least the 10 requests and 10 replies were captured (${ip4.length})`);
  const notWg = ip4.filter((f) => !(f.proto === 17 && [f.sport, f.dport].every((x: number) => x === 51822)
    && [f.src, f.dst].sort().join() === '100.64.0.2,100.64.0.6'));
  assert.equal(notWg.map((f) => `${f.src}>${f.dst} proto ${f.proto}`), [], 'every IPv4 frame is WireGuard between the two WAN addresses');
  for (const secret of ['0a01000a', '0a02000a', 'c0ffee5a']) {
    assert.not.ok(frames.some((f) => f.hex.includes(secret)), `${secret} never appears in clear on the underlay`);
  }
  assert.ok(txOn(await e1.get(), inet) >= before + 10, 'the LAN program sent the pings into the tunnel');
  // The encrypted path's MTU rule: 1500 − 60 = 1440-byte inner packets pass, one more byte is answered with ICMP.
  assert.match((await p.exec(lab, 'host1', ['ping', '-c', '1', '-M', 'do', '-s', '1412', '-W', '2', '10.2.0.10'])).stdout, /1 received/);
  assert.match((await p.exec(lab, 'host1', ['ping', '-c', '2', '-i', '0.2', '-M', 'do', '-s', '1413', '-W', '2', '10.2.0.10'])).stdout, /mtu ?= ?1440/);
});

test('cutting the internet link fails over to plaintext MPLS; restoring it brings traffic back into the tunnel', async () => {
  await p.setLinkState(lab, 'edge1:wan1', 'down');
  let restored = false;
  try {
    const st = await e1.until('failover to MPLS', 20_000, (s) => s.paths.find((x: any) => x.transport === 'inet').state === 'down' && row(s)?.pathIds[0] === pathId(s, 'mpls'));
    const mpls = pathId(st, 'mpls');
    const before = txOn(st, mpls);
    await e2.until('edge2 fails over too', 20_000, (s) => row(s)?.pathIds[0] === pathId(s, 'mpls'));
    const ping = await p.exec(lab, 'host1', ['ping', '-c', '5', '-i', '0.2', '-W', '2', '10.2.0.10']);
    assert.match(ping.stdout, /5 packets transmitted, 5 received/);
    assert.ok(txOn(await e1.get(), mpls) >= before + 5, 'encapsulated on the MPLS path');
    await p.setLinkState(lab, 'edge1:wan1', 'up');
    restored = true;
    const back = await e1.until('failback into the tunnel', 30_000, (s) => row(s)?.pathIds[0] === pathId(s, 'inet'));
    const inetBefore = txOn(back, pathId(back, 'inet'));
    await e2.until('edge2 fails back too', 20_000, (s) => row(s)?.pathIds[0] === pathId(s, 'inet'));
    const again = await p.exec(lab, 'host1', ['ping', '-c', '5', '-i', '0.2', '-W', '2', '10.2.0.10']);
    assert.match(again.stdout, /5 packets transmitted, 5 received/);
    assert.ok(txOn(await e1.get(), pathId(back, 'inet')) >= inetBefore + 5);
  } finally {
    if (!restored) await p.setLinkState(lab, 'edge1:wan1', 'up');
  }
});

test("killing and restarting edge1's agent keeps its WireGuard daemon and loses no encrypted packet", async () => {
  const st0 = await e1.until('on the internet path', 30_000, (s) => row(s)?.pathIds[0] === pathId(s, 'inet'));
  const pidFile = join(nodeDir(lab, 'edge1'), 'wg', `${st0.wireguard.devices[0].device}.pid`);
  const daemon = readFileSync(pidFile, 'utf8');
  const ping = p.exec(lab, 'host1', ['ping', '-c', '60', '-i', '0.05', '-W', '1', '10.2.0.10'], { timeoutMs: 30_000 });
  await sleep(1000);
  await (p as any).restartAgent(lab, 'edge1', 'SIGKILL');
  const st = await e1.get();
  assert.is(st.bundle.source, 'last-good');
  assert.is(readFileSync(pidFile, 'utf8'), daemon, 'the running daemon was adopted, not replaced');
  assert.match((await ping).stdout, /60 packets transmitted, 60 received/);
  assert.is((await e1.get()).wireguard.devices[0].device, st0.wireguard.devices[0].device);
});

test('destroying the lab leaves no WireGuard daemon, socket or device behind', async () => {
  await p.destroy(lab);
  assert.is(devices.length, 2);
  for (const d of devices) assert.not.ok(existsSync(`/var/run/wireguard/${d}.sock`), `${d}.sock removed`);
  const daemons = readdirSync('/proc').filter((x) => /^\d+$/.test(x)).filter((pid) => {
    try { return devices.some((d) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(d)); } catch { return false; }
  });
  assert.equal(daemons, []);
});

test.run();

// timeout: 60
/**
 * dataplane/wg against the real thing: X25519 keys as `wg pubkey` derives them, the key file's mode, and two
 * namespaces joined by a veth whose WireGuard devices (kernel module or wireguard-go, whichever this host
 * has) carry a ping between their tunnel addresses, also while the same configuration is applied again and
 * again (same UDP socket, nothing lost); status shows the handshake and bytes; removal stops the
 * daemon by its pid file and leaves no link, socket or pid file; a SIGKILLed daemon's leftovers are cleaned.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  WG_SOCKET_DIR, configureDevice, detectImpl, deviceName, ensureDevice, ensureKeyFile, generatePrivateKey, publicKeyOf, removeDevice, showDevice,
} from '../../dataplane/wg/index.ts';

const tag = `pwd${process.pid.toString(36)}`;
const nsA = `pt.${tag}.a`, nsB = `pt.${tag}.b`;
const dir = mkdtempSync(join(tmpdir(), 'pt-wg-'));
const ip = (...a: string[]) => execFileSync('ip', a, { encoding: 'utf8' });
const devA = deviceName(dir, 'a'), devB = deviceName(dir, 'b');

test.after(async () => {
  await removeDevice({ netns: nsA }, devA, join(dir, 'a')).catch(() => {});
  await removeDevice({ netns: nsB }, devB, join(dir, 'b')).catch(() => {});
  for (const ns of [nsA, nsB]) { try { ip('netns', 'del', ns); } catch { /* absent */ } }
  rmSync(dir, { recursive: true, force: true });
});

test('keys: the public key matches what wg pubkey derives, and the key file is 0600', () => {
  const priv = generatePrivateKey();
  assert.is(publicKeyOf(priv), execFileSync('wg', ['pubkey'], { input: priv + '\n', encoding: 'utf8' }).trim());
  const file = join(dir, 'k');
  const pub = ensureKeyFile(file);
  assert.is((statSync(file).mode & 0o777), 0o600);
  assert.is(ensureKeyFile(file), pub, 'an existing key is kept');
  assert.is(publicKeyOf(readFileSync(file, 'utf8').trim()), pub);
  assert.throws(() => publicKeyOf('abc'), /32 bytes/);
});

test('device names are machine-unique, prefixed and at most 15 characters', () => {
  assert.match(devA, /^ptw[0-9a-f]{12}$/);
  assert.is.not(devA, devB);
  assert.is(deviceName(dir, 'a'), devA);
});

test('two namespaces ping each other through their WireGuard devices', async () => {
  const impl = detectImpl();
  ip('netns', 'add', nsA); ip('netns', 'add', nsB);
  ip('-n', nsA, 'link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u0', 'netns', nsB);
  ip('-n', nsA, 'addr', 'add', '192.0.2.1/24', 'dev', 'u0'); ip('-n', nsB, 'addr', 'add', '192.0.2.2/24', 'dev', 'u0');
  for (const ns of [nsA, nsB]) { ip('-n', ns, 'link', 'set', 'u0', 'up'); ip('-n', ns, 'link', 'set', 'lo', 'up'); }
  const ka = join(dir, 'a.key'), kb = join(dir, 'b.key');
  const pa = ensureKeyFile(ka), pb = ensureKeyFile(kb);
  assert.ok(await ensureDevice({ netns: nsA }, impl, devA, join(dir, 'a')));
  assert.ok(await ensureDevice({ netns: nsB }, impl, devB, join(dir, 'b')));
  assert.not.ok(await ensureDevice({ netns: nsA }, impl, devA, join(dir, 'a')), 'a running device is kept');
  configureDevice({ netns: nsA }, devA, { privateKeyFile: ka, listenPort: 51901, address: '169.254.9.0', mtu: 1440, peer: { publicKey: pb, endpoint: '192.0.2.2:51902' } });
  configureDevice({ netns: nsB }, devB, { privateKeyFile: kb, listenPort: 51902, address: '169.254.9.1', mtu: 1440, peer: { publicKey: pa, endpoint: '192.0.2.1:51901' } });
  const out = execFileSync('ip', ['netns', 'exec', nsA, 'ping', '-c', '3', '-i', '0.2', '-W', '2', '169.254.9.1'], { encoding: 'utf8' });
  assert.match(out, /3 packets transmitted, 3 received/);
  const st = showDevice({ netns: nsA }, devA);
  assert.is(st.publicKey, pa);
  assert.is(st.listenPort, 51901);
  assert.is(st.peers.length, 1);
  assert.ok(st.peers[0]!.latestHandshake > 0, 'handshake done');
  assert.ok(st.peers[0]!.rxBytes > 0 && st.peers[0]!.txBytes > 0);
  // Applying the same configuration again (every bundle does) leaves a device carrying traffic alone: the
  // UDP socket stays the same (wireguard-go rebinds on any `listen-port`, even the current one, and drops
  // what arrives meanwhile), and a 5 ms ping across 30 re-applications on both ends loses nothing.
  const sockets = (ns: string, port: number) => [...execFileSync('ip', ['netns', 'exec', ns, 'ss', '-Huanpe', `sport = :${port}`], { encoding: 'utf8' }).matchAll(/ino:(\d+)/g)].map((m) => m[1]).sort();
  const before = sockets(nsA, 51901);
  assert.ok(before.length > 0, 'the device listens on its port');
  const ping = promisify(execFile)('ip', ['netns', 'exec', nsA, 'ping', '-c', '400', '-i', '0.005', '-W', '2', '169.254.9.1'], { encoding: 'utf8' });
  for (let i = 0; i < 30; i++) {
    configureDevice({ netns: nsA }, devA, { privateKeyFile: ka, listenPort: 51901, address: '169.254.9.0', mtu: 1440, peer: { publicKey: pb, endpoint: '192.0.2.2:51902' } });
    configureDevice({ netns: nsB }, devB, { privateKeyFile: kb, listenPort: 51902, address: '169.254.9.1', mtu: 1440, peer: { publicKey: pa, endpoint: '192.0.2.1:51901' } });
    await new Promise((r) => setTimeout(r, 40));
  }
  const summary = (await ping).stdout.split('\n').find((l) => /transmitted/.test(l));
  assert.match(summary ?? '', /400 packets transmitted, 400 received/, `no ping lost while the same configuration was applied again: ${summary}`);
  assert.equal(sockets(nsA, 51901), before, 'the same UDP socket');
  // Reconfiguring with another peer replaces the old one.
  const other = publicKeyOf(generatePrivateKey());
  configureDevice({ netns: nsA }, devA, { privateKeyFile: ka, listenPort: 51901, address: '169.254.9.0', mtu: 1440, peer: { publicKey: other, endpoint: '192.0.2.9:1' } });
  assert.equal(showDevice({ netns: nsA }, devA).peers.map((p) => p.publicKey), [other]);
});

test('removal stops the device by its pid file and leaves nothing behind; a SIGKILLed daemon is cleaned up too', async () => {
  const impl = detectImpl();
  await removeDevice({ netns: nsA }, devA, join(dir, 'a'));
  assert.throws(() => ip('-n', nsA, 'link', 'show', devA));
  assert.not.ok(existsSync(join(WG_SOCKET_DIR, `${devA}.sock`)));
  assert.not.ok(existsSync(join(dir, 'a', `${devA}.pid`)));
  if (impl === 'wireguard-go') {
    const pid = Number(readFileSync(join(dir, 'b', `${devB}.pid`), 'utf8'));
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 50; i++) { try { process.kill(pid, 0); await new Promise((r) => setTimeout(r, 20)); } catch { break; } }
    // A fresh ensure replaces the dead daemon (stale socket and link removed first).
    writeFileSync(join(dir, 'b', `${devB}.pid`), String(pid));
    assert.ok(await ensureDevice({ netns: nsB }, impl, devB, join(dir, 'b')), 'recreated');
    await removeDevice({ netns: nsB }, devB, join(dir, 'b'));
  }
  assert.not.ok(existsSync(join(WG_SOCKET_DIR, `${devB}.sock`)));
});

test.run();

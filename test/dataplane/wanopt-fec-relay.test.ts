// timeout: 60
/**
 * The FEC relay for real, in a fresh network namespace: a sending relay with six FEC classes (six TUN
 * devices, as a bundle with several FEC classes creates) carries one class's UDP stream over loopback to a
 * receiving relay, which must deliver every packet. Regression: the TUN reader used to hold a libuv pool
 * thread per idle device, so with five or more classes the busy device got ~20 reads/s (docs/benchmarks.md).
 *
 * The namespace part runs in a child of this file (`ip netns exec`, PT_FEC_RELAY_CHILD=1), which prints one
 * JSON line; the parent creates and removes the namespace.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const CLASSES = 6, PACKETS = 2000, PPS = 2000, BUSY = 3;

if (process.env.PT_FEC_RELAY_CHILD === '1') await child();
else await parent();

async function parent(): Promise<void> {
  const ns = `pt.fr${process.pid}`;
  const sh = (argv: string[]) => {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  };
  test.before(() => sh(['ip', 'netns', 'add', ns]));
  test.after(() => { spawnSync('ip', ['netns', 'del', ns]); });

  test('a relay with six FEC classes carries one class at 2000 packets/s and the peer relay delivers every packet', () => {
    const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url)], {
      encoding: 'utf8', env: { ...process.env, PT_FEC_RELAY_CHILD: '1' }, timeout: 45_000,
    });
    assert.is(r.status, 0, `child failed: ${r.stderr}`);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    assert.is(res.sent, PACKETS);
    assert.is(res.fromLan, PACKETS, `the sending relay read ${res.fromLan} of ${PACKETS} packets from its TUN device (${JSON.stringify(res)})`);
    assert.is(res.delivered, PACKETS, `the receiving relay delivered ${res.delivered} of ${PACKETS} (${JSON.stringify(res)})`);
    assert.is(res.lost, 0);
    assert.ok(res.datagrams >= PACKETS * 1.25, `parity sent too (${res.datagrams} datagrams)`);
  });

  test.run();
}

/** In the namespace: two relays over loopback, UDP into one class's TUN device, counters out as JSON. */
async function child(): Promise<void> {
  const { createSocket } = await import('node:dgram');
  const { FecRelay } = await import('../../dataplane/wanopt/index.ts');
  const sh = (argv: string[]) => {
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: ${r.stderr}`);
  };
  sh(['ip', 'link', 'set', 'lo', 'up']);
  // No IPv6 router solicitations in the TUN devices: the counts below are the stream's packets only.
  sh(['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  const classes = Array.from({ length: CLASSES }, (_, i) => ({ classId: i + 1, k: 8, m: 2, holdMs: 50 }));
  const rx = await FecRelay.start({ port: 7802, classes, tunName: (id) => `ptfr${id}`, peerFor: () => undefined });
  const tx = await FecRelay.start({
    port: 7801, classes, tunName: (id) => `ptfs${id}`,
    peerFor: () => ({ key: 'rx', address: '127.0.0.1', port: 7802, localAddress: '127.0.0.1' }),
  });
  const sock = createSocket('udp4');
  try {
    for (const c of classes) {
      sh(['ip', 'link', 'set', `ptfs${c.classId}`, 'up']);
      sh(['ip', 'link', 'set', `ptfr${c.classId}`, 'up']);
      sh(['ip', 'route', 'add', `10.77.${c.classId}.0/24`, 'dev', `ptfs${c.classId}`]);
    }
    let seq = 0;
    const t0 = Date.now();
    await new Promise<void>((done) => {
      const tick = () => {
        const due = Math.min(PACKETS, Math.floor(((Date.now() - t0) * PPS) / 1000) + 1);
        while (seq < due) { const b = Buffer.alloc(160); b.writeUInt32BE(seq++, 0); sock.send(b, 9, `10.77.${BUSY}.5`); }
        if (seq < PACKETS) setTimeout(tick, 2); else done();
      };
      tick();
    });
    for (let i = 0; i < 100 && rx.stats.delivered < PACKETS; i++) await new Promise((r) => setTimeout(r, 100));
    console.log(JSON.stringify({ sent: seq, fromLan: tx.stats.fromLan, datagrams: tx.stats.sent, delivered: rx.stats.delivered, lost: rx.stats.lost }));
  } finally {
    sock.close();
    tx.close();
    rx.close();
  }
}

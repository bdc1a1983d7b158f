// Traffic tools for the wanopt-two-site lab, run inside host namespaces with plain node (no configuration
// on the hosts: they talk to each other's addresses; the edges intercept). One JSON line on stdout each.
//   node traffic.mjs sink <addr> <port> <connections>   TCP: per connection, read to EOF, answer the SHA-256
//                                                       of what arrived, close; prints {bytes, sha, ms} each
//   node traffic.mjs send <addr> <port> <file>          TCP: send the file, half-close, wait for the answer;
//                                                       prints {bytes, ms, reply}
//   node traffic.mjs udpsink <addr> <port> <idleMs>     UDP: count distinct sequence numbers until idle;
//                                                       prints {received, unique, duplicates}
//   node traffic.mjs udpsend <addr> <port> <count> <pps> <size>   UDP: `count` packets carrying seq u32
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

const [mode, addr, portText, ...rest] = process.argv.slice(2);
const port = Number(portText);
const print = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

if (mode === 'sink') {
  let left = Number(rest[0] ?? 1);
  const srv = createServer({ allowHalfOpen: true }, (s) => {
    const h = createHash('sha256');
    let bytes = 0;
    const t0 = process.hrtime.bigint();
    s.on('data', (d) => { h.update(d); bytes += d.length; });
    s.on('end', () => {
      const sha = h.digest('hex');
      print({ bytes, sha, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
      s.end(sha);
      if (--left === 0) srv.close();
    });
    s.on('error', (e) => { print({ error: e.message, bytes }); if (--left === 0) srv.close(); });
  });
  srv.listen(port, addr, () => print({ listening: port }));
} else if (mode === 'send') {
  const data = readFileSync(rest[0]);
  const t0 = process.hrtime.bigint();
  const s = connect({ host: addr, port, allowHalfOpen: true });
  const reply = [];
  s.on('connect', () => s.end(data));
  s.on('data', (d) => reply.push(d));
  s.on('end', () => { print({ bytes: data.length, ms: Number(process.hrtime.bigint() - t0) / 1e6, reply: Buffer.concat(reply).toString() }); s.destroy(); });
  s.on('error', (e) => { print({ error: e.message }); process.exitCode = 1; });
} else if (mode === 'udpsink') {
  const idleMs = Number(rest[0] ?? 2000);
  const seen = new Set();
  let received = 0, timer;
  // 4 MiB (capped by net.core.rmem_max): at the benches' accelerated rates the default ~200 KiB holds only
  // ~50 ms of packets, and a sink paused that long by a busy host would count its own drops as path loss.
  const sock = createSocket({ type: 'udp4', recvBufferSize: 4 << 20 });
  const done = () => { print({ received, unique: seen.size, duplicates: received - seen.size }); sock.close(); };
  sock.on('message', (m) => {
    received++;
    if (m.length >= 4) seen.add(m.readUInt32BE(0));
    clearTimeout(timer);
    timer = setTimeout(done, idleMs);
  });
  sock.bind(port, addr, () => { print({ listening: port }); timer = setTimeout(done, idleMs * 10); });
} else if (mode === 'udpsend') {
  const [count, pps, size] = rest.map(Number);
  const sock = createSocket('udp4');
  let seq = 0;
  const t0 = Date.now();
  const tick = () => {
    // Catch up to the schedule: timers are coarse, the rate is what counts.
    const due = Math.min(count, Math.floor(((Date.now() - t0) * pps) / 1000) + 1);
    while (seq < due) { const b = Buffer.alloc(size); b.writeUInt32BE(seq++, 0); sock.send(b, port, addr); }
    if (seq < count) setTimeout(tick, 2);
    else setTimeout(() => { print({ sent: seq }); sock.close(); }, 100);
  };
  tick();
} else {
  process.stderr.write(`usage: see the comment at the top of ${process.argv[1]}\n`);
  process.exit(2);
}

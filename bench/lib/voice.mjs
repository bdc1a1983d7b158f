#!/usr/bin/env node
/**
 * A voice-like UDP flow for the failover benchmark and test, run inside a twin host's namespace with
 * `ip netns exec pt.<lab>.<host> node bench/lib/voice.mjs …` (plain Node, no build step).
 *
 *   send DST PORT [PPS=50] [SIZE=200]   sends SIZE-byte payloads at PPS: u32 sequence (from 0), f64 send
 *                                       time (ms, wall clock), zero padding; runs until killed
 *   recv PORT                           prints "ready", then one line per datagram: "SEQ SENT_MS RECV_MS"
 *
 * Times are wall-clock milliseconds with µs resolution (performance.timeOrigin + performance.now()): the
 * twin's namespaces share the host clock, so RECV_MS - SENT_MS is the one-way delay and the bench can
 * compare both with its own timestamps. The DSCP marking (EF for the voip class) is left to an nftables
 * rule in the sender's namespace, since Node's dgram cannot set the TOS byte.
 */
import dgram from 'node:dgram';

const now = () => performance.timeOrigin + performance.now();
const [mode, ...args] = process.argv.slice(2);

if (mode === 'send') {
  const [dst, port, pps = '50', size = '200'] = args;
  const interval = 1000 / Number(pps);
  const sock = dgram.createSocket('udp4');
  const buf = Buffer.alloc(Math.max(12, Number(size)));
  const start = now();
  let seq = 0;
  // Self-correcting schedule: packet n leaves at start + n × interval, so timer lateness does not accumulate.
  const tick = () => {
    buf.writeUInt32BE(seq, 0);
    buf.writeDoubleBE(now(), 4);
    sock.send(buf, Number(port), dst);
    seq++;
    setTimeout(tick, Math.max(0, start + seq * interval - now()));
  };
  tick();
} else if (mode === 'recv') {
  const sock = dgram.createSocket('udp4');
  let out = '';
  sock.on('message', (m) => {
    if (m.length < 12) return;
    out += `${m.readUInt32BE(0)} ${m.readDoubleBE(4).toFixed(3)} ${now().toFixed(3)}\n`;
  });
  // Batched writes: one write per 10 ms instead of one per datagram keeps the receiver cheap.
  setInterval(() => { if (out) { process.stdout.write(out); out = ''; } }, 10);
  sock.bind(Number(args[0]), () => process.stdout.write('ready\n'));
} else {
  process.stderr.write('usage: voice.mjs send DST PORT [PPS] [SIZE] | recv PORT\n');
  process.exit(2);
}
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => process.exit(0));

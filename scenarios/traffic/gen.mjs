#!/usr/bin/env node
/**
 * The scenario runner's traffic generator and receiver, run inside a twin host's namespace with
 * `ip netns exec pt.<lab>.<host> node scenarios/traffic/gen.mjs MODE …` (plain Node, no build step).
 * Every mode prints "ready" once listening or sending, then records as text lines on stdout, batched
 * every 100 ms (the runner parses them with scenarios/traffic/records.ts):
 *
 *   udp-send DST PORT PROFILE PARAMS_JSON   voice: {pps, size}; video: {fps, rate, size}
 *   udp-recv PORT                           receiver of udp-send
 *   rr-client DST PORT PARAMS_JSON          web: {rps, size} requests of 64 bytes, answered with `size` bytes
 *   rr-server PORT                          echoes each request's header in a `size`-byte reply
 *   tcp-send DST PORT PARAMS_JSON           bulk: {rate} (bit/s, 0 = as fast as TCP goes)
 *   tcp-recv PORT                           sink of tcp-send and tcp-file
 *   tcp-file DST PORT PARAMS_JSON           file: {size, repeat, seed} the same seeded bytes `repeat` times,
 *                                           one connection after the other (each waits for the previous to close)
 *
 * Records: "s T FIRST END LATE" — sequences [FIRST, END) were sent in the batch ending at T, the worst
 * timer lateness in it LATE ms; "p SEQ SENT RECV" — datagram SEQ sent at SENT arrived at RECV (for web,
 * the reply at the client: RECV − SENT is the round trip); "b T BYTES" — bytes received (tcp-recv) or
 * written (tcp-send, with LATE) since the previous record; "t T TICKS L1 L2 …" — the send timer fired TICKS
 * times since the previous record, and these are the lateness (ms) of the ticks that were 1 ms late or more
 * (the runner's trust check takes the p99 over every tick, not over the batches' worst). Datagrams carry a u32 sequence and an f64 send
 * time; times are wall-clock ms with µs resolution (performance.timeOrigin + performance.now()), which
 * every twin namespace shares, so RECV − SENT is the one-way delay.
 */
import dgram from 'node:dgram';
import net from 'node:net';

const now = () => performance.timeOrigin + performance.now();
const [mode, ...args] = process.argv.slice(2);
let out = '';
const emit = (line) => { out += line + '\n'; };
setInterval(() => { if (out) { process.stdout.write(out); out = ''; } }, 100);
for (const s of ['SIGTERM', 'SIGINT']) process.on(s, () => { if (out) process.stdout.write(out); process.exit(0); });

/** Batched send bookkeeping: the sequences sent since the last record and the worst lateness. */
function sendLog() {
  let first = 0, next = 0, late = 0;
  setInterval(() => {
    emit(`s ${now().toFixed(3)} ${first} ${next} ${late.toFixed(3)}`);
    first = next; late = 0;
  }, 100);
  return { sent(seq, lateMs) { next = seq + 1; if (lateMs > late) late = lateMs; } };
}

/** Stamp a datagram: u32 sequence, f64 send time, zero padding to `size`. */
function stamp(buf, seq) { buf.writeUInt32BE(seq >>> 0, 0); buf.writeDoubleBE(now(), 4); }

/** Every timer tick's lateness, as "t" records: the tick count and the ticks ≥ 1 ms late. */
const timerLog = (() => {
  let ticks = 0, late = [], started = false;
  const flush = () => { if (ticks) emit(`t ${now().toFixed(3)} ${ticks}${late.map((l) => ' ' + l.toFixed(1)).join('')}`); ticks = 0; late = []; };
  return {
    tick(lateMs) {
      if (!started) { started = true; setInterval(flush, 100); }
      ticks++;
      if (lateMs >= 1) late.push(lateMs);
    },
  };
})();

/**
 * Run `tick(n)` for n = 0, 1, … at start + n × intervalMs; the schedule corrects itself so timer
 * lateness does not accumulate, and each tick learns how late it fired (an overload sign).
 */
function every(intervalMs, tick) {
  const start = now();
  let n = 0;
  const run = () => {
    const late = Math.max(0, now() - (start + n * intervalMs));
    timerLog.tick(late);
    tick(n, late);
    n++;
    setTimeout(run, Math.max(0, start + n * intervalMs - now()));
  };
  run();
}

function udpSend([dst, port, profile, params]) {
  const p = JSON.parse(params);
  const sock = dgram.createSocket('udp4');
  const log = sendLog();
  let seq = 0;
  sock.on('error', () => { /* an unreachable destination during a cut: keep sending */ });
  if (profile === 'voice') {
    const buf = Buffer.alloc(Math.max(16, p.size ?? 200));
    every(1000 / (p.pps ?? 50), (_n, late) => { stamp(buf, seq); sock.send(buf, Number(port), dst); log.sent(seq++, late); });
  } else if (profile === 'video') {
    const size = Math.max(16, p.size ?? 1200);
    const fps = p.fps ?? 30;
    const perFrame = Math.max(1, Math.round((p.rate ?? 2e6) / 8 / fps / size));
    every(1000 / fps, (_n, late) => {
      // A frame leaves back to back, the burst a video encoder produces.
      for (let i = 0; i < perFrame; i++) { const b = Buffer.alloc(size); stamp(b, seq); sock.send(b, Number(port), dst); log.sent(seq++, late); }
    });
  } else throw new Error(`udp-send: unknown profile ${profile}`);
  process.stdout.write('ready\n');
}

function udpRecv([port]) {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m) => { if (m.length >= 12) emit(`p ${m.readUInt32BE(0)} ${m.readDoubleBE(4).toFixed(3)} ${now().toFixed(3)}`); });
  sock.bind(Number(port), () => process.stdout.write('ready\n'));
}

function rrClient([dst, port, params]) {
  const p = JSON.parse(params);
  const sock = dgram.createSocket('udp4');
  const log = sendLog();
  const req = Buffer.alloc(64);
  sock.on('error', () => { /* see udpSend */ });
  sock.on('message', (m) => { if (m.length >= 12) emit(`p ${m.readUInt32BE(0)} ${m.readDoubleBE(4).toFixed(3)} ${now().toFixed(3)}`); });
  let seq = 0;
  sock.bind(0, () => {
    every(1000 / (p.rps ?? 20), (_n, late) => { stamp(req, seq); req.writeUInt32BE(p.size ?? 1000, 12); sock.send(req, Number(port), dst); log.sent(seq++, late); });
    process.stdout.write('ready\n');
  });
}

function rrServer([port]) {
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m, rinfo) => {
    if (m.length < 16) return;
    const reply = Buffer.alloc(Math.min(1400, Math.max(16, m.readUInt32BE(12))));
    m.copy(reply, 0, 0, 12);
    sock.send(reply, rinfo.port, rinfo.address);
  });
  sock.bind(Number(port), () => process.stdout.write('ready\n'));
}

function tcpSend([dst, port, params]) {
  const p = JSON.parse(params);
  const rate = p.rate ?? 0;
  const chunk = Buffer.alloc(64 * 1024);
  let written = 0, late = 0;
  setInterval(() => { emit(`b ${now().toFixed(3)} ${written} ${late.toFixed(3)}`); written = 0; late = 0; }, 100);
  const connect = () => {
    const c = net.connect({ host: dst, port: Number(port) });
    c.setNoDelay(true);
    c.on('error', () => { setTimeout(connect, 200); });
    c.on('connect', () => {
      if (!rate) {
        const pump = () => { while (c.write(chunk)) written += chunk.length; written += chunk.length; };
        c.on('drain', pump);
        pump();
      } else {
        // Token pacing in 10 ms slices; the lateness of each slice is recorded like the UDP senders'.
        const slice = Math.max(1, Math.round(rate / 8 / 100));
        every(10, (_n, l) => { if (l > late) late = l; if (c.writableLength < 4 * slice) { c.write(Buffer.alloc(slice)); written += slice; } });
      }
    });
  };
  connect();
  process.stdout.write('ready\n');
}

/** `size` pseudo-random bytes from a xorshift32 generator seeded with `seed`: the same seed, the same bytes. */
function seededBytes(size, seed) {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = (seed >>> 0) || 0x9e3779b9;
  for (let i = 0; i < words.length; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; words[i] = x; }
  return Buffer.from(words.buffer, 0, size);
}

function tcpFile([dst, port, params]) {
  const p = JSON.parse(params);
  const content = seededBytes(p.size ?? 4 * 1024 * 1024, p.seed ?? 1);
  const repeat = p.repeat ?? 2;
  let written = 0, done = 0;
  setInterval(() => { emit(`b ${now().toFixed(3)} ${written} 0`); written = 0; }, 100);
  const transfer = () => {
    const c = net.connect({ host: dst, port: Number(port) });
    let off = 0, failed = false;
    // A connection that fails (a cut) sends the whole content again on a new one.
    c.on('error', () => { failed = true; });
    c.on('close', () => {
      if (!failed && off >= content.length) done++;
      if (done < repeat) setTimeout(transfer, failed ? 200 : 0);
    });
    c.on('connect', () => {
      const pump = () => {
        while (off < content.length) {
          const part = content.subarray(off, off + 64 * 1024);
          off += part.length; written += part.length;
          if (!c.write(part)) return;
        }
        c.end();
      };
      c.on('drain', pump);
      pump();
    });
  };
  transfer();
  process.stdout.write('ready\n');
}

function tcpRecv([port]) {
  let bytes = 0;
  setInterval(() => { emit(`b ${now().toFixed(3)} ${bytes} 0`); bytes = 0; }, 100);
  net.createServer((s) => { s.on('data', (d) => { bytes += d.length; }); s.on('error', () => {}); })
    .listen(Number(port), () => process.stdout.write('ready\n'));
}

const modes = { 'udp-send': udpSend, 'udp-recv': udpRecv, 'rr-client': rrClient, 'rr-server': rrServer, 'tcp-send': tcpSend, 'tcp-recv': tcpRecv, 'tcp-file': tcpFile };
if (!modes[mode]) {
  process.stderr.write(`usage: gen.mjs ${Object.keys(modes).join('|')} ARGS… (see the header of this file)\n`);
  process.exit(2);
}
modes[mode](args);

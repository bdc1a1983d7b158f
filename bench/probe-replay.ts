/**
 * bench/probe-replay.ts — detection time vs false switches, by replaying a recorded noisy trace through the
 * real probe/steer logic with an injected clock (hours of trace in seconds).
 *
 * The trace (seeded): one path, 10 ms slots, several hours. RTT = 60 ms + exponential noise whose mean
 * sits just under the 30 ms jitter bound (20 ms, with slow "congestion" spells at 26 ms); loss from a
 * Gilbert–Elliott chain (bursts of ~100 ms at 50 % loss, ~0.45 % loss overall). Every minute of it stays
 * within the voice SLA (150 ms one-way, 30 ms jitter, 1 % loss) — the figures are printed — except one
 * real cut of 120 s injected at 2 h. A second, clean path is always compliant. Steering: voice prefers the
 * noisy path. A false switch is a failover away from it outside [cut, cut + 10 min].
 *
 * Runs: probe intervals 10/50/100/500 ms, each without and with damping, 100 ms with passive counters
 * (100 packets/s of data sharing the path's loss), and the baseline of conventional settings (500 ms
 * probes, 5 misses to declare down, 5 replies to come back, no hold-down, no SLA hysteresis margin, no
 * damping, no passive input, no dwell). The last line is one JSON object with the raw figures.
 *
 * Run: npx tsx bench/probe-replay.ts [--hours 4] [--seed 7]
 */
import { parseArgs } from 'node:util';
import { PathMonitor, monitorConfig, type PathView } from '../dataplane/probe/index.ts';
import { Steerer, type SteerInput, type SteerPolicy } from '../dataplane/steer/index.ts';
import type { BundlePath } from '../dataplane/index.ts';

const { values } = parseArgs({ options: { hours: { type: 'string', default: '4' }, seed: { type: 'string', default: '7' } } });
const HOURS = Number(values.hours);
const SLOT = 10;
const SLOTS = Math.round((HOURS * 3_600_000) / SLOT);
const CUT_AT = 2 * 3_600_000;
const CUT_LEN = 120_000;
const VOICE = { name: 'voice', id: 1, latencyMs: 150, jitterMs: 30, loss: 0.01, fallback: 'best-of-worst' as const };
const log = (s: string) => process.stderr.write(`${s}\n`);

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** rtt[i] in ms for a packet sent in slot i, NaN when lost. */
function makeTrace(seed: number): Float32Array {
  const rnd = mulberry32(seed);
  const rtt = new Float32Array(SLOTS);
  let bad = false;
  let spell = 0; // remaining slots of a congestion spell
  for (let i = 0; i < SLOTS; i++) {
    if (spell === 0 && rnd() < 1 / 60_000) spell = Math.round(20_000 / SLOT + rnd() * 40_000 / SLOT);
    const mean = spell > 0 ? 26 : 20;
    if (spell > 0) spell--;
    bad = bad ? rnd() >= 0.1 : rnd() < 0.0008;
    const lost = rnd() < (bad ? 0.5 : 0.0005);
    const t = i * SLOT;
    rtt[i] = (t >= CUT_AT && t < CUT_AT + CUT_LEN) || lost ? NaN : 60 - mean * Math.log(1 - rnd());
  }
  return rtt;
}

/** Ground truth per minute (outside the cut): worst loss and RFC 3550 jitter of all packets. */
function truth(rtt: Float32Array) {
  const perMin = 60_000 / SLOT;
  let worstLoss = 0, worstJitter = 0, lost = 0, n = 0;
  for (let m = 0; m + perMin <= rtt.length; m += perMin) {
    if (m * SLOT >= CUT_AT - 60_000 && m * SLOT < CUT_AT + CUT_LEN) continue;
    let l = 0, j = 0, last = NaN;
    for (let i = m; i < m + perMin; i++) {
      const r = rtt[i]!;
      if (Number.isNaN(r)) { l++; continue; }
      if (!Number.isNaN(last)) j += (Math.abs(r - last) - j) / 16;
      last = r;
    }
    worstLoss = Math.max(worstLoss, l / perMin);
    worstJitter = Math.max(worstJitter, j);
    lost += l; n += perMin;
  }
  return { meanLoss: lost / n, worstMinuteLoss: worstLoss, worstMinuteJitterEnd: worstJitter };
}

interface Setting {
  name: string;
  intervalMs: number;
  damping: boolean;
  passive: boolean;
  monitor?: Parameters<typeof monitorConfig>[0];
  steer?: Partial<SteerPolicy>;
}

const path = (id: number, transport: string): BundlePath => ({
  id, peerNode: 'edge2', peerSite: 's2', peerSiteId: 2, transport, remoteTransport: transport, localInterface: `wan${id}`,
  localAddress: `10.0.${id}.1`, remoteAddress: `10.0.${id}.2`, mtu: 1500, role: 'active', probe: true,
});
const input: SteerInput = {
  paths: [path(1, 'inet'), path(2, 'mpls')],
  rules: [{ name: 'voice', segment: 'default', appClass: 'voice', slaClass: 'voice', service: 'overlay', strategy: 'preference', preferred: ['inet', 'mpls'], perPacket: false }],
  slaClasses: [VOICE],
};
const cleanView: PathView = { id: 2, state: 'up', compliant: new Set(['voice']), suppressed: false, metrics: { latency: 40, jitter: 1, loss: 0 } };

function replay(trace: Float32Array, s: Setting) {
  const t0 = performance.now();
  const mon = new PathMonitor(1, [VOICE], monitorConfig({
    adaptive: false, intervalMs: s.intervalMs, damping: { enabled: s.damping }, ...s.monitor,
  }));
  const steer = new Steerer(input, s.steer);
  const end = SLOTS * SLOT;
  // Pending replies, sorted by arrival time.
  const pend: { at: number; seq: number; rtt: number }[] = [];
  let seq = 0;
  let nextProbe = 0, nextSteer = 0, nextPassive = 1000;
  let pLost = 0, pRecv = 0;
  const failovers: number[] = [];
  let downAt: number | undefined;
  let onPreferred = false, onSince = 0, preferredMs = 0;
  const evaluate = (at: number) => {
    for (const e of mon.drain()) if (e.kind === 'state' && e.to === 'down' && e.at >= CUT_AT && downAt === undefined) downAt = e.at;
    for (const e of steer.evaluate(at, [mon.view(at), cleanView]).events) {
      if (e.from.includes(1) && !e.to.includes(1)) failovers.push(e.at);
      const now = e.to.includes(1);
      if (onPreferred && !now) preferredMs += at - onSince;
      if (!onPreferred && now) onSince = at;
      onPreferred = now;
    }
  };
  for (;;) {
    const tReply = pend.length ? pend[0]!.at : Infinity;
    const t = Math.min(nextProbe, tReply, nextSteer, s.passive ? nextPassive : Infinity);
    if (t >= end) break;
    if (t === tReply) {
      const r = pend.shift()!;
      mon.reply(r.seq, r.rtt, t);
    } else if (t === nextProbe) {
      mon.tick(t);
      const rtt = trace[Math.floor(t / SLOT)]!;
      mon.sent(seq, t);
      if (!Number.isNaN(rtt)) {
        const at = t + rtt;
        let i = pend.length;
        while (i > 0 && pend[i - 1]!.at > at) i--;
        pend.splice(i, 0, { at, seq, rtt });
      }
      seq++;
      nextProbe += s.intervalMs;
    } else if (t === nextPassive) {
      // 100 packets/s of data, each sharing the loss of its 10 ms slot.
      for (let k = 0; k < 100; k++) {
        const r = trace[Math.floor((t - 1000) / SLOT) + k]!;
        if (Number.isNaN(r)) pLost++; else pRecv++;
      }
      mon.passive({ at: t, received: pRecv, lost: pLost, reordered: 0 });
      pRecv = 0; pLost = 0;
      nextPassive += 1000;
    } else {
      mon.tick(t);
      nextSteer += 1000;
    }
    // Steering runs on every path change and once a second for its timers.
    evaluate(t);
  }
  if (onPreferred) preferredMs += end - onSince;
  const falseSwitches = failovers.filter((a) => a < CUT_AT || a > CUT_AT + 600_000).length;
  const detect = failovers.find((a) => a >= CUT_AT && a <= CUT_AT + CUT_LEN);
  const hoursOutside = (HOURS * 3_600_000 - 600_000) / 3_600_000;
  return {
    name: s.name, intervalMs: s.intervalMs, damping: s.damping, passive: s.passive,
    detectMs: detect === undefined ? null : Math.round(detect - CUT_AT),
    downMs: downAt === undefined ? null : Math.round(downAt - CUT_AT),
    shareOnPreferred: +(preferredMs / end).toFixed(4), falseSwitches, falseSwitchesPerHour: +(falseSwitches / hoursOutside).toFixed(2),
    probesPerSecond: 1000 / s.intervalMs, replaySeconds: +((performance.now() - t0) / 1000).toFixed(2),
  };
}

const trace = makeTrace(Number(values.seed));
const gt = truth(trace);
log(`trace: ${HOURS} h, ${SLOTS} slots; mean loss ${(gt.meanLoss * 100).toFixed(3)}%, worst minute loss ${(gt.worstMinuteLoss * 100).toFixed(2)}%, worst end-of-minute jitter ${gt.worstMinuteJitterEnd.toFixed(1)} ms; cut ${CUT_LEN / 1000} s at ${CUT_AT / 3_600_000} h`);

const settings: Setting[] = [
  { name: 'baseline-conventional', intervalMs: 500, damping: false, passive: false,
    monitor: { downAfter: 5, upAfter: 5, holdDownMs: 0, slaMargin: 0, timeoutFloorMs: 200, stats: { fastWindowMs: 0 } }, steer: { minDwellMs: 0, failbackHoldMs: 0 } },
];
for (const i of [10, 50, 100, 500]) for (const d of [false, true]) settings.push({ name: `patronus-${i}ms${d ? '-damped' : ''}`, intervalMs: i, damping: d, passive: false });
settings.push({ name: 'patronus-10ms-minoutage250', intervalMs: 10, damping: false, passive: false, monitor: { minOutageMs: 250 } });
settings.push({ name: 'patronus-50ms-minoutage250', intervalMs: 50, damping: false, passive: false, monitor: { minOutageMs: 250 } });
settings.push({ name: 'patronus-50ms-no-fast-window', intervalMs: 50, damping: false, passive: false, monitor: { stats: { fastWindowMs: 0 } } });
settings.push({ name: 'patronus-10ms-minoutage250-windowjitter', intervalMs: 10, damping: false, passive: false, monitor: { minOutageMs: 250, jitterFromWindow: true } });
settings.push({ name: 'patronus-50ms-windowjitter', intervalMs: 50, damping: false, passive: false, monitor: { jitterFromWindow: true } });
settings.push({ name: 'patronus-100ms-windowjitter', intervalMs: 100, damping: false, passive: false, monitor: { jitterFromWindow: true } });
settings.push({ name: 'patronus-50ms-passive', intervalMs: 50, damping: false, passive: true });
settings.push({ name: 'patronus-100ms-passive', intervalMs: 100, damping: false, passive: true });
settings.push({ name: 'patronus-100ms-damped-passive', intervalMs: 100, damping: true, passive: true });

const results = [];
for (const s of settings) {
  const r = replay(trace, s);
  log(`${r.name.padEnd(32)} detect ${String(r.detectMs).padStart(6)} ms  down ${String(r.downMs).padStart(6)} ms  false switches ${String(r.falseSwitches).padStart(4)} (${r.falseSwitchesPerHour}/h)  on preferred ${(r.shareOnPreferred * 100).toFixed(1)}%  replay ${r.replaySeconds} s`);
  results.push(r);
}
const base = results[0]!;
console.log(JSON.stringify({
  bench: 'probe-replay', hours: HOURS, seed: Number(values.seed), trace: gt, sla: VOICE, cutMs: CUT_LEN,
  baseline: base,
  runs: results.slice(1).map((r) => ({ ...r, detectVsBaseline: r.detectMs !== null && base.detectMs ? +(r.detectMs / base.detectMs).toFixed(3) : null })),
}));

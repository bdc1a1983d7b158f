/**
 * bench/failover.ts — how long a voice flow is interrupted when the preferred underlay fails, on the twin.
 *
 * labs/two-site-dual-wan (a temp copy whose edge1 links are impairable: delay lines on edge1–mpls and
 * edge1–inet) deployed with bringUp; edges run the tc overlay; the voip rule prefers mpls, then inet. A
 * voice-like flow (bench/lib/voice.mjs: 50 pps, 200 B, UDP 20000, DSCP EF → class voip) runs host1 → host2
 * and every figure comes from the receiver's sequence numbers and timestamps:
 * - cut_gap: a hard cut inside the MPLS cloud (setLinkState mpls:p2 down; edges keep carrier): the
 *   silence between the last packet on MPLS and the first on the internet path, `--runs` times.
 * - edge_cut_gap: edge1's wan0 set admin-down (carrier loss at the edge); restored with up + the bundle
 *   pushed again (admin-down deleted the kernel routes through wan0).
 * - brownout_delay_move (from the moment setImpairment returned, as for loss): +150 ms one-way on both directions of edge1's MPLS access (one-way latency then
 *   sits at the voice SLA's 150 ms bound): from the impairment to the first packet with a short one-way
 *   delay, i.e. on the internet path.
 * - brownout_loss_move: 5 % loss on both directions of edge1's MPLS access: from the impairment to the
 *   first packet on the internet path, recognised by a 20 ms marker delay put on edge1→inet for this phase.
 * - dup_lost: the intent's voip rule with `strategy: duplicate` pushed to the same lab; packets lost
 *   through hard cuts (the receiving edge drops the second copy).
 * Agent settings come from PATRONUS_TWIN_AGENT_ARGS (see dataplane/agent/cli.ts): the tuned run probes
 * every 50 ms (also while idle), declares down after 3 misses (adaptive timeout, 50 ms floor), uses passive
 * loss from the peer's echoed receive counters, judges loss over 3 s (and the default 1 s fast window), and
 * holds 1 s before failing back (path hold-down, steering failback hold and minimum dwell) so the runs stay
 * short. The same-run baseline is the conventional setting: 500 ms probes, 5 misses, a fixed 200 ms timeout
 * floor, no passive loss or fast loss window, no hold-down, failback hold or dwell — for the voice flow
 * (whose SLA's loss bound reacts to the first lost probe) and for an unmarked flow in the default class
 * (liveness only: the conventional 5-miss detection). `--with-10ms` adds cuts
 * with 10 ms probes.
 *
 * Prints progress on stderr and, last, one JSON line of raw figures (ms); exits non-zero without figures
 * when a run cannot measure (deploy fails, the flow never moves or never comes back).
 *
 * Run (root): npx tsx bench/failover.ts [--runs 20] [--with-10ms] [--only-baseline]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { getProvider, type TwinProvider } from '../twin/index.ts';
import { bringUp, prepareLab, pushBundles, type PreparedLab } from '../controller/cli/twin.ts';
import { agentRequest } from '../dataplane/index.ts';
import { VoiceFlow, lost, movedAfter, outage, percentile, sleep, wallMs, writeLabCopies } from './lib/flow.ts';

type Impair = Parameters<TwinProvider['setImpairment']>[2];

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, 'with-10ms': { type: 'boolean', default: false }, 'only-baseline': { type: 'boolean', default: false } } });
const runs = Number(values.runs);
const log = (s: string) => process.stderr.write(`${s}\n`);
const p = getProvider('netns');
const PORT = 20_000;

const TUNED = '--probe-interval 50 --probe-idle-interval 50 --probe-hold-down 1000 --failback-hold 1000 --min-dwell 1000 --probe-loss-window 3000';
const FAST = '--probe-interval 10 --probe-idle-interval 10 --probe-hold-down 1000 --failback-hold 1000 --min-dwell 1000 --probe-loss-window 3000';
/** Conventional: the pre-adaptive fixed 200 ms timeout floor, no passive loss, no fast loss window. */
const BASELINE = '--probe-interval 500 --probe-idle-interval 500 --probe-down-after 5 --probe-hold-down 0 --failback-hold 0 --min-dwell 0 '
  + '--probe-timeout-floor 200 --probe-passive 0 --probe-fast-loss-window 0';

/** `appClass`: the steering row the flow follows (voip; `default` for the unmarked liveness-only flow). */
interface Deployed { name: string; prepared: PreparedLab; flow: VoiceFlow; mpls: number; inet: number; appClass: string }

async function edge1(name: string): Promise<any> {
  return (await agentRequest(p.agentSocket(name, 'edge1'), 'GET', '/status', undefined, 3000)).body;
}
const voipRow = (st: any, appClass = 'voip') => st.steering.find((r: any) => r.appClass === appClass);
const txOn = (st: any, path: number): number => st.overlay.counters.filter((c: any) => c.path === path && c.dir === 'tx').reduce((n: number, c: any) => n + c.packets, 0);

async function waitFor(what: string, timeoutMs: number, pred: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** Voice steered on MPLS alone (or on both paths when duplicated) with the MPLS path up. */
async function waitPrimary(d: Deployed, dup = false): Promise<void> {
  await waitFor('voice back on the MPLS path', 60_000, async () => {
    const st = await edge1(d.name);
    const row = voipRow(st, d.appClass);
    const up = st.paths.find((x: any) => x.id === d.mpls)?.state === 'up';
    return up && !!row && (dup ? row.pathIds.length === 2 : row.pathIds.length === 1 && row.pathIds[0] === d.mpls);
  });
  await sleep(500);
  // The running flow may still be pinned to the internet path it failed over to (it keeps a path that
  // complies): then start a new one, or the next fault would not touch it.
  for (let i = 0; ; i++) {
    const a = txOn(await edge1(d.name), d.mpls);
    await sleep(500);
    if (txOn(await edge1(d.name), d.mpls) - a >= 20) return;
    if (i === 30) throw new Error('the voice flow does not go out on the MPLS path 15 s after steering chose it, even as a new flow');
    lagged++;
    if (i === 2) {
      log('flow still off MPLS 1.5 s after steering chose it: restarting the sender');
      await d.flow.restartSender();
    }
  }
}
async function waitMoved(d: Deployed): Promise<void> {
  await waitFor('voice to leave the MPLS path', 20_000, async () => !voipRow(await edge1(d.name), d.appClass)?.pathIds.includes(d.mpls));
  await sleep(600); // the first packets on the new path reach the receiver and its 10 ms output batch
}

async function deploy(labFile: string, tag: string, agentArgs: string, appClass = 'voip'): Promise<Deployed> {
  process.env.PATRONUS_TWIN_AGENT_ARGS = agentArgs;
  const name = `fo${process.pid}${tag}`;
  const prepared = prepareLab(labFile, { name });
  await bringUp(p, prepared, { out: { write: () => true } as unknown as NodeJS.WritableStream });
  try {
    const st = await edge1(name);
    const id = (t: string) => st.paths.find((x: any) => x.transport === t)?.id as number;
    // Unmarked and on a port outside 16384-32767, the flow falls in the default class (liveness only, no SLA).
    const flow = await VoiceFlow.start(p, name, { from: 'host1', to: 'host2', toAddress: '10.2.0.10', port: appClass === 'voip' ? PORT : 9000, ef: appClass === 'voip' });
    const d = { name, prepared, flow, mpls: id('mpls'), inet: id('inet'), appClass };
    await waitPrimary(d);
    await waitFor('the voice flow to arrive', 10_000, async () => d.flow.since(wallMs() - 500).length > 10);
    return d;
  } catch (e) {
    await p.destroy(name);
    throw e;
  }
}
async function teardown(d: Deployed): Promise<void> {
  await d.flow.stop();
  await p.destroy(d.name);
}

/** A fault, measured as the receiver's outage gap, then restored and waited out. */
async function cutGaps(d: Deployed, n: number, label: string, fault: () => Promise<unknown>, restore: () => Promise<unknown>): Promise<number[]> {
  const gaps: number[] = [];
  for (let i = 0; i < n; i++) {
    await waitPrimary(d);
    const t0 = wallMs();
    await fault();
    try {
      await waitMoved(d);
      const o = outage(d.flow.arrivals, t0, wallMs() - t0);
      if (!o) throw new Error(`${label} run ${i + 1}: the flow did not resume after the fault`);
      gaps.push(o.gapMs);
      log(`${label} ${i + 1}/${n}: gap ${o.gapMs.toFixed(1)} ms, lost ${o.lost}`);
    } finally {
      await restore();
    }
  }
  return gaps;
}

async function moves(d: Deployed, n: number, label: string, impair: Impair, onNewPath: (owd: number) => boolean): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    await waitPrimary(d);
    await Promise.all(['edge1:wan0', 'mpls:p1'].map((e) => p.setImpairment(d.name, e, impair)));
    // From when the delay lines hold the impairment: packets sent while it was being set may not have it.
    const t0 = wallMs();
    try {
      await waitMoved(d);
      const m = movedAfter(d.flow.arrivals, t0, onNewPath);
      if (m === undefined) throw new Error(`${label} run ${i + 1}: no packet on the new path after steering moved`);
      out.push(m);
      log(`${label} ${i + 1}/${n}: moved after ${m.toFixed(1)} ms`);
    } finally {
      await Promise.all(['edge1:wan0', 'mpls:p1'].map((e) => p.setImpairment(d.name, e, null)));
    }
  }
  return out;
}

/** Half-second checks in which edge1's steering said MPLS but the flow did not leave on it (data plane behind). */
let lagged = 0;
const stats = (xs: number[]) => ({ p50: +percentile(xs, 50).toFixed(1), p95: +percentile(xs, 95).toFixed(1) });

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'pt-failover-'));
  const files = writeLabCopies(dir);
  const deployed: Deployed[] = [];
  const result: Record<string, number | string> = { bench: 'failover', runs };
  const t0 = Date.now();
  const interrupted = async () => {
    for (const d of deployed) await teardown(d).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    const side = Math.max(3, Math.round(runs / 2));
    const cut = (d: Deployed) => () => p.setLinkState(d.name, 'mpls:p2', 'down');
    const uncut = (d: Deployed) => () => p.setLinkState(d.name, 'mpls:p2', 'up');

    let c = { p50: NaN, p95: NaN };
    if (!values['only-baseline']) {
    const d = await deploy(files.lab, 'a', TUNED); deployed.push(d);
    log(`deployed ${d.name} (${TUNED})`);
    c = stats(await cutGaps(d, runs, 'cut', cut(d), uncut(d)));
    Object.assign(result, { cut_gap_ms_p50: c.p50, cut_gap_ms_p95: c.p95 });
    const e = stats(await cutGaps(d, side, 'edge cut',
      () => p.exec(d.name, 'edge1', ['ip', 'link', 'set', 'wan0', 'down']),
      async () => { await p.exec(d.name, 'edge1', ['ip', 'link', 'set', 'wan0', 'up']); await pushBundles(p, d.name, d.prepared.bundles); }));
    Object.assign(result, { edge_cut_gap_ms_p50: e.p50, edge_cut_gap_ms_p95: e.p95 });
    const dl = stats(await moves(d, side, 'brownout +150ms', { delay: 150 } as Impair, (owd) => owd < 75));
    Object.assign(result, { brownout_delay_move_ms_p50: dl.p50, brownout_delay_move_ms_p95: dl.p95 });
    await p.setImpairment(d.name, 'edge1:wan1', { delay: 20 } as Impair);
    const ls = stats(await moves(d, Math.max(3, Math.round(side / 2)), 'brownout 5% loss', { loss: 0.05 } as Impair, (owd) => owd >= 10));
    await p.setImpairment(d.name, 'edge1:wan1', null);
    Object.assign(result, { brownout_loss_move_ms_p50: ls.p50, brownout_loss_move_ms_p95: ls.p95 });

    const dup = prepareLab(files.lab, { name: d.name, intent: files.dupIntent });
    await pushBundles(p, d.name, dup.bundles);
    let dupLost = 0, dupRuns = 0;
    for (let i = 0; i < Math.max(3, Math.round(runs / 4)); i++) {
      await waitPrimary(d, true);
      const before = await edge1(d.name);
      const tc = wallMs();
      await p.setLinkState(d.name, 'mpls:p2', 'down');
      await sleep(2000);
      await p.setLinkState(d.name, 'mpls:p2', 'up');
      await sleep(300);
      const window = d.flow.arrivals.filter((a) => a.sent >= tc - 500 && a.sent <= tc + 2000);
      if (window.length < 50) throw new Error(`duplicate run ${i + 1}: only ${window.length} packets arrived in 2.5 s`);
      dupLost += lost(window);
      dupRuns++;
      const after = await edge1(d.name);
      const e2 = (await agentRequest(p.agentSocket(d.name, 'edge2'), 'GET', '/status', undefined, 3000)).body;
      log(`duplicate ${i + 1}: lost ${lost(window)} of ${window.length + lost(window)}; edge1 tx on inet +${txOn(after, d.inet) - txOn(before, d.inet)}, `
        + `voip row ${JSON.stringify(voipRow(before))}; edge2 drops ${JSON.stringify(e2.overlay?.drops)}`);
    }
    Object.assign(result, { dup_runs: dupRuns, dup_lost: dupLost });
    await teardown(deployed.pop()!);
    }

    const b = await deploy(files.lab, 'b', BASELINE); deployed.push(b);
    log(`deployed ${b.name} (${BASELINE})`);
    const bc = stats(await cutGaps(b, runs, 'baseline cut', cut(b), uncut(b)));
    Object.assign(result, { baseline_cut_gap_ms_p50: bc.p50, baseline_cut_gap_ms_p95: bc.p95 });
    if (!values['only-baseline']) result.cut_speedup_p50 = +(bc.p50 / c.p50).toFixed(2);
    await teardown(deployed.pop()!);
    // The voice baseline moves on the voice SLA's loss bound (one lost probe of the 20 in its 10 s window
    // is 5 %), before 5 misses declare the path down; the default class has no SLA, so this is liveness alone.
    const l = await deploy(files.lab, 'l', BASELINE, 'default'); deployed.push(l);
    log(`deployed ${l.name} (${BASELINE}), unmarked flow in the default class`);
    const lc = stats(await cutGaps(l, runs, 'baseline liveness cut', cut(l), uncut(l)));
    Object.assign(result, { baseline_liveness_cut_gap_ms_p50: lc.p50, baseline_liveness_cut_gap_ms_p95: lc.p95 });
    await teardown(deployed.pop()!);

    if (values['with-10ms']) {
      const f = await deploy(files.lab, 'c', FAST); deployed.push(f);
      log(`deployed ${f.name} (${FAST})`);
      const fc = stats(await cutGaps(f, side, 'cut 10ms', cut(f), uncut(f)));
      Object.assign(result, { cut10_gap_ms_p50: fc.p50, cut10_gap_ms_p95: fc.p95 });
      await teardown(deployed.pop()!);
    }
    result.dataplane_lag_checks = lagged;
    result.total_s = Math.round((Date.now() - t0) / 1000);
    process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  } catch (e) {
    log(`failover bench cannot measure: ${(e as Error).message}`);
    return 1;
  } finally {
    for (const d of deployed) await teardown(d).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main();

// timeout: 90
/**
 * The probe runtime for real: a responder in one network namespace, a prober in another, joined by a veth
 * pair. Probes flow and RTT is measured; an nftables netdev ingress drop chain on the responder's side takes
 * the path down within N × interval + timeout; removing it brings the path back after the hold-down.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

const id = `ptd${process.pid}`;
const nsA = `pt.${id}.a`;
const nsB = `pt.${id}.b`;
const vethA = `${id}a`.slice(0, 15);
const vethB = `${id}b`.slice(0, 15);
const INTERVAL = 20, DOWN_AFTER = 3, FLOOR = 200, HOLD = 1000;
const children: ChildProcess[] = [];
const lines: any[] = [];

const sh = (args: string[], input?: string) => {
  const r = spawnSync(args[0]!, args.slice(1), { input, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
};
function start(ns: string, args: string[]) {
  const c = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', 'dataplane/probe/cli.ts', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(c);
  createInterface({ input: c.stdout! }).on('line', (l) => { try { lines.push({ ns, ...JSON.parse(l) }); } catch { /* not ours */ } });
  return c;
}
async function waitFor<T>(what: string, f: () => T | undefined, ms = 15_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}; last lines: ${JSON.stringify(lines.slice(-5))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const cutRules = `table netdev patronus {\n  chain cut_${vethB} {\n    type filter hook ingress device "${vethB}" priority -500; policy drop;\n  }\n}\n`;

test.before(() => {
  sh(['ip', 'netns', 'add', nsA]);
  sh(['ip', 'netns', 'add', nsB]);
  sh(['ip', 'link', 'add', vethA, 'netns', nsA, 'type', 'veth', 'peer', 'name', vethB, 'netns', nsB]);
  sh(['ip', '-n', nsA, 'addr', 'add', '10.254.0.1/30', 'dev', vethA]);
  sh(['ip', '-n', nsB, 'addr', 'add', '10.254.0.2/30', 'dev', vethB]);
  for (const [ns, dev] of [[nsA, vethA], [nsB, vethB]] as const) { sh(['ip', '-n', ns, 'link', 'set', dev, 'up']); sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up']); }
});

test.after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  spawnSync('ip', ['netns', 'del', nsA]);
  spawnSync('ip', ['netns', 'del', nsB]);
});

test('probes flow over a veth pair, a cut takes the path down in time and a restore brings it back after the hold-down', async () => {
  start(nsB, ['respond', '--bind', '10.254.0.2']);
  await waitFor('responder ready', () => lines.find((l) => l.ns === nsB && l.type === 'ready'));
  start(nsA, ['probe', '--path', '1,10.254.0.1,10.254.0.2', '--interval', String(INTERVAL), '--no-adaptive', '--down-after', String(DOWN_AFTER),
    '--hold-down', String(HOLD), '--timeout-floor', String(FLOOR), '--report', '200']);
  await waitFor('path up', () => lines.find((l) => l.type === 'event' && l.kind === 'state' && l.to === 'up'));
  const m = await waitFor('RTT measured', () => lines.find((l) => l.type === 'metrics' && l.received >= 20));
  assert.ok(m.srtt > 0 && m.srtt < 50, `RTT over a veth is well under 50 ms, got ${m.srtt}`);
  assert.is(m.lost, 0);

  sh(['ip', 'netns', 'exec', nsB, 'nft', '-f', '-'], cutRules);
  const cutAt = Date.now();
  const down = await waitFor('path down', () => lines.find((l) => l.type === 'event' && l.kind === 'state' && l.to === 'down'));
  const detect = down.at - cutAt;
  // The bound from the design, plus scheduling slack for a loaded 2-core machine running tsx children.
  assert.ok(detect <= DOWN_AFTER * INTERVAL + FLOOR + 1000, `down ${detect} ms after the cut`);
  assert.ok(detect >= (DOWN_AFTER - 1) * INTERVAL, `not declared before ${DOWN_AFTER} probes could miss (${detect} ms)`);

  sh(['ip', 'netns', 'exec', nsB, 'nft', 'delete', 'table', 'netdev', 'patronus']);
  const restoreAt = Date.now();
  const up = await waitFor('path back up', () => lines.find((l) => l.type === 'event' && l.kind === 'state' && l.to === 'up' && l.at > down.at));
  const back = up.at - restoreAt;
  assert.ok(back >= HOLD, `back after ${back} ms, not before the ${HOLD} ms hold-down`);
  assert.ok(back <= HOLD + 3000, `back after ${back} ms`);
  console.log(JSON.stringify({ srttMs: m.srtt, detectMs: detect, bound: DOWN_AFTER * INTERVAL + FLOOR, recoverMs: back, holdDownMs: HOLD }));
});

test.run();

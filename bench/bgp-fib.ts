/**
 * bench/bgp-fib.ts — time to full FIB, like for like: the Patronus edge agent (speaker → route merge →
 * kernel table + pt_routes4 LPM map) against BIRD 2 exporting to the kernel, learning the same N IPv4
 * prefixes from the same feeder in the same run.
 *
 * Lab (written to a temporary file, the bgp-edge intent): a BIRD feeder `isp` (AS 65001) with eBGP sessions
 * to edge1 (the Patronus agent, tc data path, its own namespace) and to `rx` (BIRD 2, `protocol kernel`
 * exporting BGP routes to the main table, its own namespace). The feeder's N routes (/24s from 20.0.0.0 up)
 * sit in a static protocol `feed` that starts disabled. Each receiver is measured alone, the other's session
 * disabled: `birdc enable feed` starts the clock; it stops when the receiver's main table holds all N
 * (the `Prefixes` count of its namespace's /proc/PID/net/fib_triestat, read every max(20, N/10 000) ms —
 * no route dump; the read walks the trie, the same cost for both sides). Then `disable feed` and the time until all N are gone.
 * Same-run floor: the N routes written into a scratch table of the edge namespace by one `ip -batch`.
 * RSS: VmHWM of the agent process and of the receiving BIRD. `patronus_batches`: the agent's coalesced BGP
 * route batches (events.jsonl) over fill and drain, each one merge and one incremental kernel/map write.
 * The last line is one JSON object with the raw figures (seconds and MB).
 *
 * Run: flock /tmp/pt-heavy.lock npx tsx bench/bgp-fib.ts [--prefixes 100000] [--agent-prof DIR]
 *      (root, bird, the netns twin; run `node scripts/build.mjs` first)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { agentRequest } from '../dataplane/agent/index.ts';
import { bringUp, prepareLab } from '../controller/cli/twin.ts';
import { getProvider, routerSocket } from '../twin/index.ts';

const { values } = parseArgs({ options: { prefixes: { type: 'string', default: '100000' }, timeout: { type: 'string', default: '600' }, 'agent-prof': { type: 'string' } } });
// --agent-prof DIR: the agent runs with --cpu-prof (a .cpuprofile written into DIR when it exits, stopped
// gracefully before teardown) and --trace-gc (its agent.log, GC lines included, copied into DIR).
const profDir = values['agent-prof'] ? resolve(values['agent-prof']) : undefined;
if (profDir) {
  mkdirSync(profDir, { recursive: true });
  process.env.PATRONUS_TWIN_AGENT_NODE_ARGS = `--cpu-prof --cpu-prof-dir ${profDir} --trace-gc`;
}
const N = Number(values.prefixes);
const timeoutMs = Number(values.timeout) * 1000;
if (!Number.isInteger(N) || N < 1 || N > 4_000_000) { process.stderr.write('--prefixes: expected 1..4000000\n'); process.exit(2); }

const p = getProvider('netns');
const lab = `bgf${process.pid}`;
const prefix = (i: number) => `${20 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}.0/24`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// fib_triestat walks the whole trie: poll less often for big tables so the poll does not eat a core.
const pollMs = Math.max(20, Math.round(N / 10_000));

const labYaml = `
name: bgp-fib-bench
topology:
  nodes:
    edge1: { kind: edge, site: s1 }
    isp:
      kind: router
      router: { daemon: bird, asn: 65001, neighbors: [{ address: 10.255.0.1, asn: 65010 }, { address: 10.255.1.1, asn: 65020 }] }
    rx:
      kind: router
      router: { daemon: bird, asn: 65020, neighbors: [{ address: 10.255.1.2, asn: 65001 }] }
    host1: { kind: host, gateway: 10.1.0.1 }
  links:
    - endpoints: [{ node: edge1, interface: wan0, ipv4: 10.255.0.1/30 }, { node: isp, interface: eth1, ipv4: 10.255.0.2/30 }]
    - endpoints: [{ node: host1, interface: eth0, ipv4: 10.1.0.10/24 }, { node: edge1, interface: lan0, ipv4: 10.1.0.1/24 }]
    - endpoints: [{ node: rx, interface: eth0, ipv4: 10.255.1.1/30 }, { node: isp, interface: eth2, ipv4: 10.255.1.2/30 }]
`;

/** Prefixes in the main table of the namespace process `pid` lives in. */
function mainPrefixes(pid: number): number {
  const s = readFileSync(`/proc/${pid}/net/fib_triestat`, 'utf8');
  const m = /Main:[\s\S]*?Prefixes:\s+(\d+)/.exec(s);
  if (!m) throw new Error(`no Main table in /proc/${pid}/net/fib_triestat`);
  return Number(m[1]);
}
const hwmMB = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

async function until(what: string, cond: () => boolean, ms: number, every = 20): Promise<number> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(every);
  }
  return performance.now() - t0;
}

/** --agent-prof: SIGTERM the agent and wait until it has exited (its profile is written on exit), keep its log. */
async function stopAgentForProfile(): Promise<void> {
  const dir = dirname(p.agentSocket(lab, 'edge1'));
  if (!existsSync(join(dir, 'agent.log'))) return;
  const pid = (await agentRequest(p.agentSocket(lab, 'edge1'), 'GET', '/status')).body.pid as number;
  process.kill(pid, 'SIGTERM');
  await until('agent exited (profile written)', () => { try { return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return true; } }, 120_000, 100);
  copyFileSync(join(dir, 'agent.log'), join(profDir!, 'agent.log'));
}

let code = 0;
const tmp = mkdtempSync(join(tmpdir(), 'pt-bgf-'));
try {
  const labFile = join(tmp, 'lab.yaml');
  writeFileSync(labFile, labYaml);
  const prepared = prepareLab(labFile, { name: lab, intent: 'labs/bgp-edge/intent.yaml' });
  const isp = prepared.lab.nodes.isp!;
  // The feed starts disabled: nothing is sent until the clock starts.
  // One string: the twin spreads extraConfig into an argument list, which a million entries would overflow.
  isp.router!.extraConfig = [['protocol static feed {', '  disabled;', '  ipv4;', ...Array.from({ length: N }, (_, i) => `  route ${prefix(i)} unreachable;`), '}'].join('\n')];
  const ispSock = routerSocket(lab, isp);
  const rxSock = routerSocket(lab, prepared.lab.nodes.rx!);
  const birdc = (sock: string, ...args: string[]) => execFileSync('birdc', ['-s', sock, ...args], { maxBuffer: 1 << 26 }).toString();
  const established = (proto: string) => new RegExp(`^${proto}\\s+BGP\\s+\\S+\\s+up\\s+\\S+\\s+Established`, 'm').test(birdc(ispSock, 'show', 'protocols'));
  await bringUp(p, prepared, { out: new Writable({ write: (_c, _e, cb) => cb() }) });
  await until('both sessions Established', () => established('peer1') && established('peer2'), 30_000, 200);

  const agentPid = (await agentRequest(p.agentSocket(lab, 'edge1'), 'GET', '/status')).body.pid as number;
  const birdPid = Number(readFileSync(join(dirname(rxSock), 'bird.pid'), 'utf8').trim());

  /** Enable the feed towards one receiver only; seconds until its table is full, then until it is empty. */
  async function measure(pid: number): Promise<{ fill: number; drain: number }> {
    // The base: the receiver's table once it stopped changing (session changes move a few routes).
    let base = -1;
    await until('receiver table stable', () => { const was = base; base = mainPrefixes(pid); return was === base; }, 30_000, 1000);
    birdc(ispSock, 'enable', 'feed');
    const fill = await until(`${N} routes installed`, () => mainPrefixes(pid) >= base + N, timeoutMs, pollMs);
    birdc(ispSock, 'disable', 'feed');
    const drain = await until(`${N} routes removed`, () => mainPrefixes(pid) <= base, timeoutMs, pollMs);
    return { fill: fill / 1000, drain: drain / 1000 };
  }

  birdc(ispSock, 'disable', 'peer2');
  const since = Date.now();
  const pat = await measure(agentPid);
  // The agent's coalesced route batches (its events.jsonl) while filling and draining: each is one merge + write.
  const batches = readFileSync(join(dirname(p.agentSocket(lab, 'edge1')), 'events.jsonl'), 'utf8').split('\n')
    .filter((l) => l.includes('"kind":"routes"')).map((l) => JSON.parse(l) as { at: number }).filter((e) => e.at >= since).length;
  const patRss = hwmMB(agentPid);
  birdc(ispSock, 'enable', 'peer2');
  await until('rx session Established', () => established('peer2'), 30_000, 200);
  birdc(ispSock, 'disable', 'peer1');
  const bird = await measure(birdPid);
  const birdRss = hwmMB(birdPid);

  // The kernel floor: one ip -batch of the N routes into a scratch table of the edge namespace.
  const ns = `pt.${lab}.edge1`;
  const batch = Array.from({ length: N }, (_, i) => `route replace ${prefix(i)} via 10.255.0.2 dev wan0 table 4242`).join('\n') + '\n';
  const t0 = performance.now();
  const r = spawnSync('ip', ['-n', ns, '-batch', '-'], { input: batch, maxBuffer: 1 << 26 });
  const ipBatchS = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`baseline ip -batch failed: ${r.stderr}`);

  const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
  console.log(JSON.stringify({
    bench: 'bgp-fib', prefixes: N,
    patronus_fib_s: round(pat.fill), bird_fib_s: round(bird.fill), time_ratio: round(pat.fill / bird.fill, 2),
    patronus_withdraw_s: round(pat.drain), bird_withdraw_s: round(bird.drain),
    patronus_batches: batches, patronus_rss_mb: Math.round(patRss), bird_rss_mb: Math.round(birdRss), ip_batch_s: round(ipBatchS), poll_ms: pollMs,
    load: readFileSync('/proc/loadavg', 'utf8').trim(),
  }));
} catch (e) {
  process.stderr.write(`bench/bgp-fib: cannot measure: ${(e as Error).message}\n`);
  code = 1;
} finally {
  if (profDir) await stopAgentForProfile().catch((e) => process.stderr.write(`bench/bgp-fib: agent profile: ${(e as Error).message}\n`));
  await p.destroy(lab).catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(code);

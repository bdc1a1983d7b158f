/**
 * The netns provider, the embedded default: one network namespace per node, veths created directly in
 * their target namespaces in `ip -batch` form, wan clouds as bridges or routers, agents and routing daemons
 * started inside their namespace with logs in the node's state directory. Everything is named from the lab
 * (see names.ts), so `destroy` works from names alone — also after a crash or SIGKILL of the deployer.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentCommand, agentRequest } from '../../../dataplane/index.ts';
import type { Lab } from '../../lab/normalise.ts';
import type { Impair } from '../../lab/schema.ts';
import {
  CommandError, LabExistsError, NotFoundError, UnsupportedError,
  type DestroyReport, type ExecResult, type LabStatus, type NodeStatus, type Progress, type TwinProvider,
} from '../../provider.ts';
import { bpfDir, labDir, nodeDir, nsName, parseNsName, RUN_ROOT, stateFile } from './names.ts';
import { planLab } from './plan.ts';
import { routerSessions, startRouter } from './routers.ts';
import { delayLineOf, hasNetem, netemArgs, startLabDelayLines } from '../../impair/netns.ts';
import { bufferBytes } from '../../impair/params.ts';
import { ipBatch, mapLimit, run, runOk } from './sh.ts';

/** What the state file records about a deployment. */
export interface LabState {
  lab: string;
  provider: 'netns';
  state: 'deploying' | 'up';
  /** The deploying process: a 'deploying' state whose pid is gone is stale. */
  pid: number;
  createdAt: string;
  file: string;
  nodes: { name: string; kind: string; daemon?: 'bird' | 'frr'; neighbors?: string[] }[];
  /** Every link as its two "node:interface" endpoints. */
  links: [string, string][];
  /** Shared-risk groups: tag → the first endpoint of every link carrying it. */
  srlg?: Record<string, string[]>;
}

const PARALLEL = 8;

async function listNamespaces(): Promise<string[]> {
  const out = await runOk(['ip', '-j', 'netns', 'list']);
  return (JSON.parse(out.trim() || '[]') as { name: string }[]).map((n) => n.name);
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** The start time of a process (clock ticks since boot, /proc/PID/stat field 22), so a reused pid is told apart. */
function startTicks(pid: number): string | undefined {
  try { return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[19]; } catch { return undefined; }
}

/**
 * Mark a deployed lab as owned by a running process (default this one), e.g. a scenario runner's `sc<pid>`
 * lab: once that process is gone — SIGKILLed before its clean-up — {@link NetnsProvider.stale} reports the lab.
 * Example: `claimLab('sc1234')` after deploying it.
 */
export function claimLab(lab: string, pid = process.pid): void {
  writeFileSync(join(labDir(lab), 'owner.json'), JSON.stringify({ pid, start: startTicks(pid) }));
}

/** A claimed lab whose owner process is gone (or its pid now belongs to another process). */
function ownerGone(lab: string): boolean {
  let o: { pid: number; start?: string };
  try { o = JSON.parse(readFileSync(join(labDir(lab), 'owner.json'), 'utf8')); } catch { return false; }
  return !pidAlive(o.pid) || (o.start !== undefined && startTicks(o.pid) !== o.start);
}

function readState(lab: string): LabState | undefined {
  try { return JSON.parse(readFileSync(stateFile(lab), 'utf8')) as LabState; } catch { return undefined; }
}

function commOf(pid: number): string {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(0, 3).join(' '); } catch { return '?'; }
}

/** tag → the first endpoint of every link in that shared-risk group. */
export function srlgIndex(lab: Lab): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const l of lab.links) for (const tag of l.srlg) (out[tag] ??= []).push(`${l.endpoints[0].node}:${l.endpoints[0].interface}`);
  return out;
}

export class NetnsProvider implements TwinProvider {
  readonly name = 'netns';

  async srlgLinks(lab: string, tag: string): Promise<string[]> {
    const st = readState(lab);
    if (!st) throw new NotFoundError(`lab "${lab}" is not deployed`);
    const links = st.srlg?.[tag];
    if (!links) throw new NotFoundError(`lab "${lab}" has no link in shared-risk group "${tag}" (groups: ${Object.keys(st.srlg ?? {}).sort().join(', ') || 'none'})`);
    return links;
  }

  agentSocket(lab: string, node: string): string {
    return join(nodeDir(lab, node), 'agent.sock');
  }

  async list(): Promise<string[]> {
    const labs = new Set<string>();
    for (const ns of await listNamespaces()) { const p = parseNsName(ns); if (p) labs.add(p.lab); }
    if (existsSync(RUN_ROOT)) for (const d of readdirSync(RUN_ROOT)) if (existsSync(stateFile(d))) labs.add(d);
    return [...labs].sort();
  }

  /** Labs whose deployment is not healthy: no state file, 'deploying' by a process that is gone, or claimed ({@link claimLab}) by a process that is gone. */
  async stale(): Promise<string[]> {
    const out: string[] = [];
    for (const lab of await this.list()) {
      const st = readState(lab);
      if (!st || (st.state === 'deploying' && !pidAlive(st.pid)) || ownerGone(lab)) out.push(lab);
    }
    return out;
  }

  async deploy(lab: Lab, opts: { progress?: Progress } = {}): Promise<void> {
    const progress = opts.progress ?? (() => {});
    const existing = (await listNamespaces()).filter((n) => parseNsName(n)?.lab === lab.name);
    if (existing.length || existsSync(stateFile(lab.name))) {
      throw new LabExistsError(`lab "${lab.name}" is already deployed (${existing.length} namespaces); run "patronus twin down ${lab.name}" first`);
    }
    const nodes = Object.values(lab.nodes);
    const plans = planLab(lab);
    const total = 5 + nodes.length;
    let done = 0;
    const step = (s: string) => progress({ step: s, done: ++done, total });

    mkdirSync(labDir(lab.name), { recursive: true });
    const state: LabState = {
      lab: lab.name, provider: 'netns', state: 'deploying', pid: process.pid, createdAt: new Date().toISOString(),
      file: lab.file, nodes: nodes.map((n) => ({
        name: n.name, kind: n.kind, ...(n.router && { daemon: n.router.daemon, neighbors: n.router.neighbors.map((x) => x.address) }),
      })),
      links: lab.links.map((l) => l.endpoints.map((e) => `${e.node}:${e.interface}`) as [string, string]),
      srlg: srlgIndex(lab),
    };
    writeFileSync(stateFile(lab.name), JSON.stringify(state, null, 1));
    for (const n of nodes) mkdirSync(nodeDir(lab.name, n.name), { recursive: true });

    await ipBatch(undefined, plans.map((p) => `netns add ${p.ns}`));
    step(`${plans.length} namespaces`);
    await mapLimit(plans, PARALLEL, (p) => ipBatch(p.ns, p.links));
    step(`${lab.links.length} links`);
    await mapLimit(plans, PARALLEL, async (p) => {
      const kv = Object.entries(p.sysctls).map(([k, v]) => `${k}=${v}`);
      if (kv.length) await runOk(['ip', 'netns', 'exec', p.ns, 'sysctl', '-q', '-w', ...kv]);
    });
    step('sysctls');
    await mapLimit(plans, PARALLEL, (p) => ipBatch(p.ns, p.setup));
    step('addresses');
    await mapLimit(plans, PARALLEL, (p) => ipBatch(p.ns, p.routes));
    await mapLimit(plans, PARALLEL, async (p) => { if (p.nft) await runOk(['ip', 'netns', 'exec', p.ns, 'nft', '-f', '-'], { input: p.nft }); });
    step('routes');
    // Daemons and agents start while the kernel settles link state (up to a second, see waitOperUp).
    const linksUp = this.waitOperUp(plans.map((p) => p.ns));
    linksUp.catch(() => { /* awaited below */ });
    await mapLimit(nodes, PARALLEL, async (n) => {
      if (n.kind === 'router') await startRouter(lab, n);
      if (n.kind === 'edge') await this.startAgent(lab.name, n.name, n.clock ? ['--clock-offset', String(n.clock.offsetMs), '--clock-drift', String(n.clock.driftPpm)] : []);
    });
    await linksUp;
    await startLabDelayLines(lab, PARALLEL);
    for (const link of lab.links) {
      for (const e of link.endpoints) if (e.impair) await this.setImpairment(lab.name, `${e.node}:${e.interface}`, e.impair);
    }
    await mapLimit(nodes, PARALLEL, async (n) => {
      for (const cmd of n.exec) {
        const r = await this.exec(lab.name, n.name, cmd.split(/\s+/).filter(Boolean));
        if (r.code !== 0) throw new CommandError([cmd], r.code, r.stderr);
      }
      step(`${n.kind} ${n.name}`);
    });
    state.state = 'up';
    writeFileSync(stateFile(lab.name), JSON.stringify(state, null, 1));
  }

  /**
   * Wait until every interface is operationally up. The kernel applies carrier changes from its linkwatch
   * work up to a second later, and until then a veth drops what it is given: without this wait the first
   * packets after deploy vanish.
   */
  private async waitOperUp(namespaces: string[], timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let pending = namespaces;
    while (pending.length) {
      const still = await mapLimit(pending, PARALLEL, async (ns) => {
        const links = JSON.parse((await runOk(['ip', '-n', ns, '-j', 'link', 'show'])).trim() || '[]') as { ifname: string; operstate: string; flags: string[] }[];
        return links.some((l) => l.ifname !== 'lo' && l.flags.includes('UP') && l.operstate !== 'UP') ? ns : undefined;
      });
      pending = still.filter((x): x is string => x !== undefined);
      if (!pending.length) return;
      if (Date.now() > deadline) throw new CommandError(['wait for links'], null, `interfaces still not operationally up after ${timeoutMs} ms in ${pending.join(', ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async startAgent(lab: string, node: string, extra: string[] = []): Promise<void> {
    const dir = nodeDir(lab, node);
    const socket = this.agentSocket(lab, node);
    // The twin runs the overlay's tc build by default: on veths its redirects deliver whatever the peer
    // runs, while XDP redirects need GRO or XDP on the receiving peer and complete checksums from senders
    // (docs/overlay.md). PATRONUS_TWIN_DATAPATH=xdp|kernel selects the others.
    const datapath = process.env.PATRONUS_TWIN_DATAPATH ?? 'tc';
    // Extra agent flags for every edge of labs deployed by this process (benchmarks tune probing with it),
    // e.g. PATRONUS_TWIN_AGENT_ARGS="--probe-interval 50 --probe-hold-down 1000"; split on whitespace.
    const tuning = (process.env.PATRONUS_TWIN_AGENT_ARGS ?? '').split(/\s+/).filter(Boolean);
    // Flags for node itself, before the agent's bundle (profiling: bench/bgp-fib.ts --agent-prof), e.g.
    // PATRONUS_TWIN_AGENT_NODE_ARGS="--cpu-prof --cpu-prof-dir /tmp/pt-prof"; split on whitespace.
    const nodeFlags = (process.env.PATRONUS_TWIN_AGENT_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
    const [node0, ...agentArgv] = agentCommand([
      '--node', node, '--state-dir', dir, '--socket', socket, '--datapath', datapath, '--bpf-dir', join(bpfDir(lab), node), ...extra, ...tuning,
    ]);
    const argv = ['ip', 'netns', 'exec', nsName(lab, node), node0!, ...nodeFlags, ...agentArgv];
    writeFileSync(join(dir, 'agent.argv.json'), JSON.stringify(argv));
    await this.spawnAgent(lab, node, argv);
  }

  /**
   * Kill a node's agent and start it again with the same arguments (a crash-and-restart fault). The
   * agent re-applies its last-good bundle; attached programs and pinned maps keep forwarding meanwhile.
   */
  async restartAgent(lab: string, node: string, signal: 'SIGTERM' | 'SIGKILL' = 'SIGKILL'): Promise<void> {
    const ns = await this.requireNode(lab, node);
    const argvFile = join(nodeDir(lab, node), 'agent.argv.json');
    if (!existsSync(argvFile)) throw new NotFoundError(`node "${node}" of lab "${lab}" runs no agent`);
    const argv = JSON.parse(readFileSync(argvFile, 'utf8')) as string[];
    const bundle = argv.find((a) => a.endsWith('edge.js')) ?? 'edge.js';
    const agents = async () => (await run(['ip', 'netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean).map(Number)
      .filter((pid) => commOf(pid).includes(bundle));
    for (const pid of await agents()) { try { process.kill(pid, signal); } catch { /* gone */ } }
    for (let i = 0; i < 100 && (await agents()).length; i++) await new Promise((r) => setTimeout(r, 50));
    await this.spawnAgent(lab, node, argv);
  }

  private async spawnAgent(lab: string, node: string, argv: string[]): Promise<void> {
    const dir = nodeDir(lab, node);
    const socket = this.agentSocket(lab, node);
    const log = openSync(join(dir, 'agent.log'), 'a');
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', log, log] });
    child.unref();
    closeSync(log);
    // Ready when the control socket answers; fail fast if the process dies first.
    let exited: number | null = null;
    child.once('exit', (code) => { exited = code ?? 1; });
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (exited !== null) throw new CommandError(argv, exited, readFileSync(join(dir, 'agent.log'), 'utf8').slice(-2000));
      if (existsSync(socket)) {
        try { if ((await agentRequest(socket, 'GET', '/status', undefined, 1000)).status === 200) return; } catch { /* not yet */ }
      }
      if (Date.now() > deadline) throw new CommandError(argv, null, `agent ${node} did not answer on ${socket} within 10 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async destroy(lab: string, opts: { progress?: Progress } = {}): Promise<DestroyReport> {
    const progress = opts.progress ?? (() => {});
    const namespaces = (await listNamespaces()).filter((n) => parseNsName(n)?.lab === lab);
    let processes = 0;
    // Processes first (found by namespace membership, so only ours), then the namespaces with their links.
    await mapLimit(namespaces, PARALLEL, async (ns) => {
      const pids = async () => (await run(['ip', 'netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean).map(Number);
      let list = await pids();
      processes += list.length;
      for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
        for (const pid of list) { try { process.kill(pid, sig); } catch { /* gone */ } }
        for (let i = 0; i < 40 && list.length; i++) { await new Promise((r) => setTimeout(r, 50)); list = await pids(); }
        if (!list.length) break;
      }
    });
    progress({ step: `${processes} processes stopped`, done: 1, total: 3 });
    await ipBatch(undefined, namespaces.map((ns) => `netns delete ${ns}`));
    progress({ step: `${namespaces.length} namespaces removed`, done: 2, total: 3 });
    const pins: string[] = [];
    if (existsSync(bpfDir(lab))) { pins.push(bpfDir(lab)); rmSync(bpfDir(lab), { recursive: true, force: true }); }
    rmSync(labDir(lab), { recursive: true, force: true });
    progress({ step: 'state removed', done: 3, total: 3 });
    return { namespaces, processes, pins };
  }

  async inspect(lab: string): Promise<LabStatus> {
    const st = readState(lab);
    const present = new Set((await listNamespaces()).filter((n) => parseNsName(n)?.lab === lab));
    const names = st ? st.nodes : [...present].filter((ns) => !parseNsName(ns)!.internal).map((ns) => ({ name: parseNsName(ns)!.node, kind: '?' }));
    const nodes = await mapLimit(names, PARALLEL, async ({ name, kind, daemon, neighbors }: LabState['nodes'][number]): Promise<NodeStatus> => {
      const ns = nsName(lab, name);
      const s: NodeStatus = { name, kind, handle: ns, present: present.has(ns), processes: [], interfaces: [] };
      if (!s.present) return s;
      s.processes = (await run(['ip', 'netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean).map((p) => ({ pid: Number(p), command: commOf(Number(p)) }));
      const addrs = JSON.parse((await run(['ip', '-n', ns, '-j', 'address', 'show'])).stdout || '[]') as { ifname: string; operstate: string; addr_info?: { family: string; local: string; prefixlen: number; scope: string }[] }[];
      s.interfaces = addrs.filter((a) => a.ifname !== 'lo').map((a) => ({
        name: a.ifname, state: a.operstate,
        addresses: (a.addr_info ?? []).filter((i) => i.scope !== 'link').map((i) => `${i.local}/${i.prefixlen}`),
      }));
      if (kind === 'edge') {
        // A hub's status is ~100 KB and a 200-node lab keeps 2 cores busy right after bring-up: 2 s was too short there (CI).
        try { s.agent = (await agentRequest(this.agentSocket(lab, name), 'GET', '/status', undefined, 5000)).body; } catch { /* agent down: shown as such */ }
      }
      if (daemon) s.router = { daemon, sessions: await routerSessions(lab, name, daemon, neighbors ?? []) };
      return s;
    });
    const state = !st ? (present.size ? 'partial' : 'absent') : st.state === 'deploying' && !pidAlive(st.pid) ? 'partial' : st.state;
    return { lab, provider: this.name, state, nodes };
  }

  private async requireNode(lab: string, node: string): Promise<string> {
    const ns = nsName(lab, node);
    if (!(await listNamespaces()).includes(ns)) throw new NotFoundError(`node "${node}" of lab "${lab}" is not deployed (no namespace ${ns})`);
    return ns;
  }

  async exec(lab: string, node: string, argv: string[], opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    const ns = await this.requireNode(lab, node);
    return run(['ip', 'netns', 'exec', ns, ...argv], opts);
  }

  private async endpoint(lab: string, endpoint: string): Promise<{ ns: string; dev: string; ifindex: number }> {
    const [node, dev] = endpoint.split(':');
    if (!node || !dev) throw new NotFoundError(`endpoint "${endpoint}": expected "node:interface"`);
    const ns = await this.requireNode(lab, node);
    const r = await run(['ip', '-n', ns, '-j', 'link', 'show', 'dev', dev]);
    if (r.code !== 0) throw new NotFoundError(`interface "${dev}" does not exist on node "${node}" of lab "${lab}"`);
    return { ns, dev, ifindex: (JSON.parse(r.stdout) as { ifindex: number }[])[0]!.ifindex };
  }

  /**
   * A cut as a WAN failure usually looks from the edge: carrier stays up, nothing gets through in either
   * direction (nftables netdev ingress and egress chains with policy drop on both ends of the link). Admin-down
   * would instead delete the routes through the interface, which a real cut beyond the CPE does not.
   */
  async setLinkState(lab: string, endpoint: string, state: 'up' | 'down'): Promise<void> {
    const st = readState(lab);
    const link = st?.links.find((l) => l.includes(endpoint));
    const ends = link ?? [endpoint];
    // Both hooks at both ends. An edge's own ingress drop runs after its tc/XDP programs (which have
    // already consumed the packet — e.g. marked a duplicate sequence as seen — before the cut kills it),
    // and its egress drop is bypassed by XDP redirects; the far end's ingress and egress drops are what
    // make the cut total, so a packet is never half-delivered. For the same reason the egress drops go in
    // before the ingress drops, and come out after them: in between, nothing is on the wire to be half-seen.
    const at = await Promise.all(ends.map((e) => this.endpoint(lab, e)));
    const hook = async (dir: 'ingress' | 'egress', on: boolean) => {
      for (const { ns, dev, ifindex } of at) {
        const chain = dir === 'ingress' ? `cut_${ifindex}` : `cut_out_${ifindex}`;
        if (on) {
          await runOk(['ip', 'netns', 'exec', ns, 'nft', '-f', '-'], {
            input: `add table netdev patronus\nadd chain netdev patronus ${chain} { type filter hook ${dir} device "${dev}" priority -500; policy drop; }\n`,
          });
        } else {
          await run(['ip', 'netns', 'exec', ns, 'nft', 'delete', 'chain', 'netdev', 'patronus', chain]);
        }
      }
    };
    if (state === 'down') { await hook('egress', true); await hook('ingress', true); }
    else { await hook('ingress', false); await hook('egress', false); }
  }

  /**
   * Impairs traffic leaving `endpoint`. On a link with a delay line (impaired in the lab, or marked
   * impairable) everything goes to that direction of the delay line: delay, order-keeping jitter, seeded
   * loss models, rate with buffer depth, down, schedules (see twin/impair and docs/impairment.md). On a
   * plain veth link rate alone is a TBF on the endpoint; delay, jitter and loss use netem where the kernel
   * has it, and otherwise this says to mark the link impairable instead of pretending.
   */
  async setImpairment(lab: string, endpoint: string, impair: Impair | null): Promise<void> {
    const { ns, dev } = await this.endpoint(lab, endpoint);
    const dl = delayLineOf(lab, readState(lab)?.links ?? [], endpoint);
    if (dl) { await dl.line.impair(dl.dir, impair); return; }
    if (impair?.schedule || impair?.trace) throw new UnsupportedError(`${endpoint}: schedules and traces need a delay line; mark the link "impairable: true" in the lab`);
    if (!impair) {
      await run(['tc', '-n', ns, 'qdisc', 'del', 'dev', dev, 'root']);
      await this.setLinkState(lab, endpoint, 'up');
      return;
    }
    if (impair.delay || impair.jitter || impair.loss) {
      if (!(await hasNetem(ns))) throw new UnsupportedError(`${endpoint}: delay, jitter and loss on a plain link need the netem qdisc, which this kernel lacks; mark the link "impairable: true" in the lab to give it a delay line`);
      const limit = impair.rate ? ['limit', String(Math.max(2, Math.ceil(bufferBytes(impair.buffer, impair.rate) / 1500)))] : [];
      await runOk(['tc', '-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', 'netem', ...netemArgs(impair), ...limit]);
    } else if (impair.rate !== undefined) {
      const burst = Math.max(3028, Math.ceil(impair.rate / 8 / 1000));
      await runOk(['tc', '-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${impair.rate}bit`, 'burst', String(burst), 'limit', String(Math.max(3028, bufferBytes(impair.buffer, impair.rate)))]);
    } else {
      await run(['tc', '-n', ns, 'qdisc', 'del', 'dev', dev, 'root']);
    }
    if (impair.down !== undefined) await this.setLinkState(lab, endpoint, impair.down ? 'down' : 'up');
  }
}

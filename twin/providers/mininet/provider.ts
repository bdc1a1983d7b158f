/**
 * The mininet provider: Debian's mininet driven through bridge.py (JSON lines over child_process), run
 * inside `unshare --net --mount --pid --fork --mount-proc` with a tmpfs on /tmp, so mininet's machine-wide
 * clean-up habits can only reach the sandbox. Every lab node is a mininet Host (no switches: a `wan`
 * bridge cloud is a host with a Linux bridge, a routed cloud or router a host with ip_forward); links are
 * TCLinks named as in the lab, each end shaped with HTB when it has a rate. Addresses, bridges, sysctls,
 * routes and NAT come from the same plan as the netns provider, run inside the hosts.
 *
 * The sandbox outlives the process that deployed it: its state lives in /run/patronus/<lab>/
 * (mininet.json: pids and topology; mininet.sock: the bridge's unix socket for later calls; mininet.log).
 * `destroy` asks the bridge to stop mininet, then kills the sandbox's pid 1, which takes every process of
 * the sandbox (hosts, daemons, agents) and its network namespaces with it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { agentCommand, agentRequest } from '../../../dataplane/index.ts';
import { packageRoot } from '../../../dataplane/paths.ts';
import type { Lab } from '../../lab/normalise.ts';
import type { Impair } from '../../lab/schema.ts';
import {
  CommandError, LabExistsError, NotFoundError, TwinError, UnsupportedError,
  type DestroyReport, type ExecResult, type LabStatus, type NodeStatus, type Progress, type TwinProvider,
} from '../../provider.ts';
import { birdConfig, frrConfig, planLab, routerSessions } from '../netns/index.ts';
import { labDir, nodeDir, RUN_ROOT } from '../netns/names.ts';

/** Debian's python3 (the one mininet is installed for), not whatever `python3` a PATH shim picks. */
export const MININET_PYTHON = '/usr/bin/python3';

/** What mininet.json records about a deployment. */
export interface MininetState {
  lab: string;
  provider: 'mininet';
  state: 'deploying' | 'up';
  /** The deploying process. */
  deployer: number;
  /** Host pid of `unshare` and of the sandbox's pid 1 (the bridge). */
  unsharePid: number;
  bridgePid: number;
  createdAt: string;
  file: string;
  nodes: { name: string; kind: string; daemon?: 'bird' | 'frr'; neighbors?: string[] }[];
  links: [string, string][];
}

const stateFile = (lab: string) => join(labDir(lab), 'mininet.json');
const sockFile = (lab: string) => join(labDir(lab), 'mininet.sock');
const logFile = (lab: string) => join(labDir(lab), 'mininet.log');

function readState(lab: string): MininetState | undefined {
  try { return JSON.parse(readFileSync(stateFile(lab), 'utf8')) as MininetState; } catch { return undefined; }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
  // A zombie is gone for our purposes.
  try { return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A JSON-lines conversation with the bridge: over the deployer's pipes, or one socket connection per call. */
interface Channel { call(op: string, body?: Record<string, unknown>, timeoutMs?: number): Promise<any> }

class PipeChannel implements Channel {
  private next = 1;
  private buf = '';
  private readonly pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  constructor(private readonly child: ChildProcess, log: string) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      this.buf += d;
      for (let i = this.buf.indexOf('\n'); i >= 0; i = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        const msg = JSON.parse(line) as { id: number; ok: boolean; result?: unknown; error?: string };
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (msg.ok) p?.resolve(msg.result); else p?.reject(new TwinError(`mininet bridge: ${msg.error}`));
      }
    });
    child.once('exit', (code) => {
      const tail = existsSync(log) ? readFileSync(log, 'utf8').slice(-1500) : '';
      for (const p of this.pending.values()) p.reject(new CommandError(['mininet bridge'], code, tail));
      this.pending.clear();
    });
  }
  call(op: string, body: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<any> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(id); reject(new TwinError(`mininet bridge: no reply to ${op} within ${timeoutMs} ms`)); }, timeoutMs);
      this.pending.set(id, { resolve: (v) => { clearTimeout(timer); resolve(v); }, reject: (e) => { clearTimeout(timer); reject(e); } });
      this.child.stdin!.write(JSON.stringify({ id, op, ...body }) + '\n');
    });
  }
  /** End the pipe session: the bridge goes on serving its socket. */
  detach(): void {
    this.child.stdin!.end();
    this.child.stdout!.destroy();
    this.child.unref();
  }
}

class SocketChannel implements Channel {
  /** The bridge serves one connection at a time: calls from this process queue here. */
  private static queue: Promise<unknown> = Promise.resolve();
  constructor(private readonly path: string) {}
  call(op: string, body: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<any> {
    const run = SocketChannel.queue.then(() => new Promise((resolve, reject) => {
      const s = connect(this.path);
      let buf = '';
      const timer = setTimeout(() => s.destroy(new TwinError(`mininet bridge at ${this.path}: no reply to ${op} within ${timeoutMs} ms`)), timeoutMs);
      s.setEncoding('utf8');
      s.on('connect', () => s.write(JSON.stringify({ id: 1, op, ...body }) + '\n'));
      s.on('data', (d: string) => {
        buf += d;
        const i = buf.indexOf('\n');
        if (i < 0) return;
        clearTimeout(timer);
        s.end();
        const msg = JSON.parse(buf.slice(0, i)) as { ok: boolean; result?: unknown; error?: string };
        if (msg.ok) resolve(msg.result); else reject(new TwinError(`mininet bridge: ${msg.error}`));
      });
      s.on('error', (e) => { clearTimeout(timer); reject(e instanceof TwinError ? e : new TwinError(`mininet bridge at ${this.path}: ${e.message}`)); });
    }));
    SocketChannel.queue = run.catch(() => undefined);
    return run;
  }
}

export class MininetProvider implements TwinProvider {
  readonly name = 'mininet';

  agentSocket(lab: string, node: string): string {
    return join(nodeDir(lab, node), 'agent.sock');
  }

  async list(): Promise<string[]> {
    return existsSync(RUN_ROOT) ? readdirSync(RUN_ROOT).filter((d) => existsSync(stateFile(d))).sort() : [];
  }

  /** Labs whose sandbox is gone, or whose deployer died mid-deploy. */
  async stale(): Promise<string[]> {
    return (await this.list()).filter((lab) => {
      const st = readState(lab);
      return !st || !alive(st.bridgePid) || (st.state === 'deploying' && !alive(st.deployer));
    });
  }

  private channel(lab: string): Channel {
    const st = readState(lab);
    if (!st || !alive(st.bridgePid)) throw new NotFoundError(`lab "${lab}" is not deployed on mininet (no running sandbox; state in ${labDir(lab)})`);
    return new SocketChannel(sockFile(lab));
  }

  async deploy(lab: Lab, opts: { progress?: Progress } = {}): Promise<void> {
    const progress = opts.progress ?? (() => {});
    if (existsSync(labDir(lab.name))) throw new LabExistsError(`lab "${lab.name}" is already deployed (${labDir(lab.name)} exists); run "patronus twin down ${lab.name}" first`);
    if (!existsSync(MININET_PYTHON) || !existsSync('/usr/bin/mnexec')) throw new UnsupportedError('mininet is not installed (apt-get install mininet); use --provider netns');
    for (const l of lab.links) {
      for (const e of l.endpoints) {
        const i = e.impair as (Impair & { schedule?: unknown; trace?: unknown }) | undefined;
        if (i && (i.delay || i.jitter || i.loss || i.schedule || i.trace)) {
          throw new UnsupportedError(`${e.node}:${e.interface}: the mininet provider shapes rate only (delay, jitter and loss need netem in mininet's TCLink); use --provider netns`);
        }
      }
    }
    const nodes = Object.values(lab.nodes);
    const total = 6 + nodes.length;
    let done = 0;
    const step = (s: string) => progress({ step: s, done: ++done, total });

    mkdirSync(labDir(lab.name), { recursive: true });
    for (const n of nodes) mkdirSync(nodeDir(lab.name, n.name), { recursive: true });
    const log = openSync(logFile(lab.name), 'a');
    const bridge = join(packageRoot(), 'twin', 'providers', 'mininet', 'bridge.py');
    // The private /tmp hides everything under the host's /tmp, including this package when it was cloned
    // there (as CI may do): keep it visible at the same path by binding it back over the tmpfs.
    const root = packageRoot();
    const keep = root === '/tmp' || root.startsWith('/tmp/') ? join(labDir(lab.name), 'pkg') : undefined;
    if (keep) mkdirSync(keep, { recursive: true });
    const privateTmp = keep
      ? `mount --bind "$2" "$3" && mount -t tmpfs -o mode=1777 pt-mininet-tmp /tmp && mkdir -p "$2" && mount --bind "$3" "$2"`
      : 'mount -t tmpfs -o mode=1777 pt-mininet-tmp /tmp';
    const child = spawn('unshare', [
      '--net', '--mount', '--pid', '--fork', '--mount-proc', '--propagation', 'private', '--',
      'sh', '-c', `${privateTmp} && exec ${MININET_PYTHON} "$0" --socket "$1"`, bridge, sockFile(lab.name), root, keep ?? '',
    ], { detached: true, stdio: ['pipe', 'pipe', log], env: { ...process.env, PATH: `/usr/sbin:/usr/bin:/sbin:/bin:${process.env.PATH ?? ''}` } });
    closeSync(log);
    const chan = new PipeChannel(child, logFile(lab.name));
    const state: MininetState = {
      lab: lab.name, provider: 'mininet', state: 'deploying', deployer: process.pid, unsharePid: child.pid!, bridgePid: 0,
      createdAt: new Date().toISOString(), file: lab.file, nodes: nodes.map((n) => ({ name: n.name, kind: n.kind, ...(n.router && { daemon: n.router.daemon, neighbors: n.router.neighbors.map((x) => x.address) }) })),
      links: lab.links.map((l) => l.endpoints.map((e) => `${e.node}:${e.interface}`) as [string, string]),
    };
    try {
      state.bridgePid = await this.sandboxPid(child.pid!);
      writeFileSync(stateFile(lab.name), JSON.stringify(state, null, 1));
      step('sandbox');
      const mbit = (i?: Impair) => (i?.rate !== undefined ? i.rate / 1e6 : null);
      await chan.call('deploy', {
        hosts: nodes.map((n) => n.name),
        links: lab.links.map((l) => ({ a: l.endpoints[0].node, ai: l.endpoints[0].interface, b: l.endpoints[1].node, bi: l.endpoints[1].interface, mtu: l.mtu, bwa: mbit(l.endpoints[0].impair), bwb: mbit(l.endpoints[1].impair) })),
      });
      step(`${nodes.length} hosts, ${lab.links.length} links`);
      const ok = async (node: string, argv: string[], input?: string) => {
        const r = await chan.call('exec', { node, argv, ...(input !== undefined && { input }) }) as ExecResult;
        if (r.code !== 0) throw new CommandError([`${node}:`, ...argv], r.code, r.stderr || r.stdout, input);
        return r;
      };
      // Mininet made the veths already (direct, without the netns provider's link namespaces); the rest of
      // the netns plan runs inside each host as is.
      const plans = planLab(lab).filter((p) => lab.nodes[p.node]);
      for (const p of plans) {
        const kv = Object.entries(p.sysctls).map(([k, v]) => `${k}=${v}`);
        if (kv.length) await ok(p.node, ['sysctl', '-q', '-w', ...kv]);
      }
      step('sysctls');
      for (const p of plans) await ok(p.node, ['ip', '-batch', '-'], p.setup.join('\n') + '\n');
      step('addresses');
      for (const p of plans) if (p.routes.length) await ok(p.node, ['ip', '-batch', '-'], p.routes.join('\n') + '\n');
      for (const p of plans) if (p.nft) await ok(p.node, ['nft', '-f', '-'], p.nft);
      step('routes');
      for (const n of nodes) {
        const dir = nodeDir(lab.name, n.name);
        if (n.router?.daemon === 'bird') {
          writeFileSync(join(dir, 'bird.conf'), birdConfig(lab, n));
          await ok(n.name, ['bird', '-c', join(dir, 'bird.conf'), '-s', join(dir, 'bird.ctl'), '-P', join(dir, 'bird.pid')]);
        } else if (n.router) {
          writeFileSync(join(dir, 'zebra.conf'), `hostname ${n.name}\n`);
          writeFileSync(join(dir, 'bgpd.conf'), frrConfig(lab, n));
          await ok(n.name, ['chown', '-R', 'frr:frr', dir]);
          const common = ['--vty_socket', dir, '-z', join(dir, 'zserv.api'), '-u', 'frr', '-g', 'frr', '-A', '127.0.0.1', '-P', '0'];
          await ok(n.name, ['/usr/lib/frr/zebra', '-d', '-f', join(dir, 'zebra.conf'), '-i', join(dir, 'zebra.pid'), ...common]);
          await ok(n.name, ['/usr/lib/frr/bgpd', '-d', '-f', join(dir, 'bgpd.conf'), '-i', join(dir, 'bgpd.pid'), ...common]);
        }
        if (n.kind === 'edge') {
          const clock = n.clock ? ['--clock-offset', String(n.clock.offsetMs), '--clock-drift', String(n.clock.driftPpm)] : [];
          await chan.call('spawn', { node: n.name, argv: agentCommand(['--node', n.name, '--state-dir', dir, '--socket', this.agentSocket(lab.name, n.name), ...clock]), log: join(dir, 'agent.log') });
          await this.waitAgent(lab.name, n.name);
        }
        for (const cmd of n.exec) await ok(n.name, cmd.split(/\s+/).filter(Boolean));
        step(`${n.kind} ${n.name}`);
      }
      state.state = 'up';
      writeFileSync(stateFile(lab.name), JSON.stringify(state, null, 1));
      step('up');
    } catch (e) {
      // Leave the lab for destroy (the caller rolls back), but never an orphan sandbox without state.
      if (!existsSync(stateFile(lab.name))) writeFileSync(stateFile(lab.name), JSON.stringify(state, null, 1));
      throw e;
    } finally {
      chan.detach();
    }
  }

  /** The host pid of the sandbox's pid 1: the only child of `unshare --fork`. */
  private async sandboxPid(unsharePid: number): Promise<number> {
    for (let i = 0; i < 100; i++) {
      try {
        const kids = readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
        if (kids.length) return kids[0]!;
      } catch { /* not yet, or gone */ }
      if (!alive(unsharePid)) break;
      await sleep(20);
    }
    throw new CommandError(['unshare'], null, 'the mininet sandbox did not start');
  }

  private async waitAgent(lab: string, node: string): Promise<void> {
    const socket = this.agentSocket(lab, node);
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(50)) {
      if (!existsSync(socket)) continue;
      try { if ((await agentRequest(socket, 'GET', '/status', undefined, 1000)).status === 200) return; } catch { /* not yet */ }
    }
    throw new CommandError(['agent', node], null, `agent ${node} did not answer on ${socket} within 10 s: ${readFileSync(join(nodeDir(lab, node), 'agent.log'), 'utf8').slice(-1000)}`);
  }

  async destroy(lab: string, opts: { progress?: Progress } = {}): Promise<DestroyReport> {
    const st = readState(lab);
    let processes = 0;
    if (st) {
      if (alive(st.bridgePid)) {
        processes = 1;
        // A clean mininet stop first; then pid 1 dies, and the kernel kills the rest of the sandbox.
        try { await new SocketChannel(sockFile(lab)).call('stop', {}, 15_000); } catch { /* killed below */ }
      }
      for (const pid of [st.bridgePid, st.unsharePid]) if (pid > 0 && alive(pid)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      for (let i = 0; i < 100 && [st.bridgePid, st.unsharePid].some((p) => p > 0 && alive(p)); i++) await sleep(50);
    }
    opts.progress?.({ step: 'sandbox stopped', done: 1, total: 2 });
    rmSync(labDir(lab), { recursive: true, force: true });
    opts.progress?.({ step: 'state removed', done: 2, total: 2 });
    return { namespaces: [], processes, pins: [] };
  }

  async inspect(lab: string): Promise<LabStatus> {
    const st = readState(lab);
    if (!st) return { lab, provider: this.name, state: 'absent', nodes: [] };
    const up = alive(st.bridgePid);
    const hosts: Record<string, number> = up ? ((await this.channel(lab).call('status')) as { hosts: Record<string, number> }).hosts : {};
    const nodes: NodeStatus[] = [];
    for (const { name, kind, daemon, neighbors } of st.nodes) {
      const s: NodeStatus = { name, kind, handle: `mininet:${name}`, present: name in hosts, processes: [], interfaces: [] };
      if (s.present) {
        const r = await this.exec(lab, name, ['ip', '-j', 'address', 'show']);
        const addrs = JSON.parse(r.stdout || '[]') as { ifname: string; operstate: string; addr_info?: { local: string; prefixlen: number; scope: string }[] }[];
        s.interfaces = addrs.filter((a) => a.ifname !== 'lo').map((a) => ({
          name: a.ifname, state: a.operstate, addresses: (a.addr_info ?? []).filter((i) => i.scope !== 'link').map((i) => `${i.local}/${i.prefixlen}`),
        }));
        if (kind === 'edge') { try { s.agent = (await agentRequest(this.agentSocket(lab, name), 'GET', '/status', undefined, 2000)).body; } catch { /* shown as not answering */ } }
        // The daemons' control sockets are files in the node's state folder: reachable from outside the sandbox.
        if (daemon) s.router = { daemon, sessions: await routerSessions(lab, name, daemon, neighbors ?? []) };
      }
      nodes.push(s);
    }
    const state = !up ? 'partial' : st.state === 'deploying' && !alive(st.deployer) ? 'partial' : st.state;
    return { lab, provider: this.name, state, nodes };
  }

  async exec(lab: string, node: string, argv: string[], opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    const st = readState(lab);
    if (st && !st.nodes.some((n) => n.name === node)) throw new NotFoundError(`node "${node}" of lab "${lab}" is not deployed (known: ${st.nodes.map((n) => n.name).join(', ')})`);
    const timeout = (opts.timeoutMs ?? 30_000) / 1000;
    return await this.channel(lab).call('exec', { node, argv, timeout }, (opts.timeoutMs ?? 30_000) + 5000) as ExecResult;
  }

  private endpointOf(lab: string, endpoint: string): { node: string; dev: string; link: [string, string] } {
    const [node, dev] = endpoint.split(':');
    const st = readState(lab);
    const link = st?.links.find((l) => l.includes(endpoint));
    if (!node || !dev || !link) throw new NotFoundError(`endpoint "${endpoint}" is not a link endpoint of lab "${lab}"`);
    return { node, dev, link };
  }

  /** The same cut as the netns provider: carrier stays up, an nftables netdev ingress drop on both ends. */
  async setLinkState(lab: string, endpoint: string, state: 'up' | 'down'): Promise<void> {
    const { link } = this.endpointOf(lab, endpoint);
    for (const e of link) {
      const [node, dev] = e.split(':') as [string, string];
      const chain = `cut_${dev.replace(/[^A-Za-z0-9_]/g, '_')}`;
      const r = state === 'down'
        ? await this.channel(lab).call('exec', { node, argv: ['nft', '-f', '-'], input: `add table netdev patronus\nadd chain netdev patronus ${chain} { type filter hook ingress device "${dev}" priority -500; policy drop; }\n` }) as ExecResult
        : await this.channel(lab).call('exec', { node, argv: ['nft', 'delete', 'chain', 'netdev', 'patronus', chain] }) as ExecResult;
      if (state === 'down' && r.code !== 0) throw new CommandError(['nft', e], r.code, r.stderr);
    }
  }

  /** Rate only (HTB through mininet's TCIntf, in Mbit/s); delay, jitter and loss would need netem. */
  async setImpairment(lab: string, endpoint: string, impair: Impair | null): Promise<void> {
    const { node, dev } = this.endpointOf(lab, endpoint);
    if (impair && (impair.delay || impair.jitter || impair.loss)) throw new UnsupportedError(`${endpoint}: the mininet provider shapes rate only; use --provider netns for delay, jitter and loss`);
    await this.channel(lab).call('bw', { node, intf: dev, bw: impair?.rate !== undefined ? impair.rate / 1e6 : null });
    if (impair?.down !== undefined || !impair) await this.setLinkState(lab, endpoint, impair?.down ? 'down' : 'up');
  }
}

/**
 * One scenario flow running in two twin hosts: the receiving side first (udp-recv, rr-server, tcp-recv),
 * then the sending side, each `node gen.mjs …` under `ip netns exec pt.<lab>.<host>`. Records from both
 * sides are collected in memory for stats.ts; the DSCP mark is an nftables rule in the sender's
 * namespace (Node's dgram cannot set the TOS byte), removed with the namespace or by {@link TwinFlow.stop}.
 *
 * Example:
 *   const f = await TwinFlow.start('sc123', flow);   // flow: a ResolvedFlow of the scenario
 *   …; await f.stop(); f.sendRecords(); f.recvRecords();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { nsName } from '../../twin/index.ts';
import type { ResolvedFlow } from '../load.ts';
import { DSCP } from '../schema.ts';
import { parseRecord, type GenRecord } from './stats.ts';

/** The generator script (plain Node) the hosts run: beside this file, or from the CLI bundle in dist/ its source. */
export const GEN_SCRIPT = [new URL('./gen.mjs', import.meta.url), new URL('../scenarios/traffic/gen.mjs', import.meta.url)]
  .map((u) => fileURLToPath(u)).find((f) => existsSync(f)) ?? fileURLToPath(new URL('./gen.mjs', import.meta.url));

/** The nftables table name of a flow's DSCP rule (one per flow; a host may send several). */
const nftTable = (f: ResolvedFlow) => `pt_sc_${f.port}`;

function run(argv: string[], input?: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(argv[0]!, argv.slice(1), { stdio: [input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr!.on('data', (d) => { stderr += d; });
    p.on('close', (code) => resolve({ code: code ?? 1, stderr }));
    if (input !== undefined) p.stdin!.end(input);
  });
}

/** A flow's two generator processes and what they printed. */
export class TwinFlow {
  private readonly procs: ChildProcess[] = [];
  private readonly recs: { send: GenRecord[]; recv: GenRecord[] } = { send: [], recv: [] };
  private stopped = false;
  private stopping?: Promise<void>;
  private constructor(readonly lab: string, readonly flow: ResolvedFlow) {}

  /** Start the receiving side, wait for it to listen, then the sender; rejects (after cleaning up) when either fails within 10 s. */
  static async start(lab: string, flow: ResolvedFlow): Promise<TwinFlow> {
    const f = new TwinFlow(lab, flow);
    try {
      const tos = DSCP[flow.dscp];
      if (tos) {
        const proto = flow.profile === 'bulk' || flow.profile === 'file' ? 'tcp' : 'udp';
        const rule = `table ip ${nftTable(flow)} {\n chain out {\n  type filter hook output priority 0;\n  ${proto} dport ${flow.port} ip dscp set ${tos}\n }\n}\n`;
        const r = await run(['ip', 'netns', 'exec', nsName(lab, flow.from), 'nft', '-f', '-'], rule);
        if (r.code !== 0) throw new Error(`flow ${flow.name}: cannot install the DSCP rule in ${flow.from}: ${r.stderr.trim()}`);
      }
      const p = JSON.stringify({ pps: flow.pps, fps: flow.fps ?? flow.rps, rps: flow.rps, rate: flow.rate, size: flow.size, repeat: flow.repeat, seed: flow.seed });
      const port = String(flow.port);
      const [recv, send] = flow.profile === 'bulk' ? [['tcp-recv', port], ['tcp-send', flow.toAddress, port, p]]
        : flow.profile === 'file' ? [['tcp-recv', port], ['tcp-file', flow.toAddress, port, p]]
        : flow.profile === 'web' ? [['rr-server', port], ['rr-client', flow.toAddress, port, p]]
          : [['udp-recv', port], ['udp-send', flow.toAddress, port, flow.profile, p]];
      // The web client both sends and receives the replies: its records are the "receive" side.
      await f.spawn(flow.to, recv, flow.profile === 'web' ? 'send' : 'recv');
      await f.spawn(flow.from, send, flow.profile === 'web' ? 'recv' : 'send');
      return f;
    } catch (e) {
      await f.stop();
      throw e;
    }
  }

  private spawn(node: string, args: string[], side: 'send' | 'recv'): Promise<void> {
    const p = spawn('ip', ['netns', 'exec', nsName(this.lab, node), process.execPath, GEN_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.procs.push(p);
    let stderr = '';
    p.stderr!.on('data', (d) => { stderr += d; });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`flow ${this.flow.name}: ${args[0]} in ${node} did not start within 10 s`)), 10_000);
      p.once('exit', (code) => { clearTimeout(timer); if (!this.stopped) reject(new Error(`flow ${this.flow.name}: ${args[0]} in ${node} exited (${code}): ${stderr.trim()}`)); });
      createInterface({ input: p.stdout! }).on('line', (line) => {
        if (line === 'ready') { clearTimeout(timer); resolve(); return; }
        const r = parseRecord(line);
        if (r) this.recs[side].push(r);
      });
    });
  }

  /** Stop the sender, let packets in flight land (`drainMs`), then stop the receiver and remove the DSCP rule. */
  stop(drainMs = 0): Promise<void> {
    // Every caller waits for the same stop (a scheduled stop may still be draining when the run ends).
    this.stopping ??= this.stopNow(drainMs);
    return this.stopping;
  }

  private async stopNow(drainMs: number): Promise<void> {
    this.stopped = true;
    const kill = (p: ChildProcess) => new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      // Resolve on 'close' (stdout drained too): the final batch of records is printed on SIGTERM.
      p.once('close', () => resolve());
      p.kill('SIGTERM');
      setTimeout(() => { p.kill('SIGKILL'); resolve(); }, 2000).unref();
    });
    const [first, ...rest] = [...this.procs].reverse();
    if (first) await kill(first);
    if (drainMs) await new Promise((r) => setTimeout(r, drainMs));
    await Promise.all(rest.map(kill));
    if (DSCP[this.flow.dscp]) await run(['ip', 'netns', 'exec', nsName(this.lab, this.flow.from), 'nft', 'delete', 'table', 'ip', nftTable(this.flow)]);
  }

  /** Records of the sending side ("s" batches; "b" for TCP). */
  sendRecords(): GenRecord[] { return this.recs.send; }
  /** Records of the receiving side ("p" arrivals; "b" for TCP; the client's replies for web). */
  recvRecords(): GenRecord[] { return this.recs.recv; }
}

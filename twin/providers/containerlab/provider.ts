/**
 * The containerlab provider: exports the lab (export.ts) under /run/patronus/<lab>/clab/ and drives the
 * `containerlab` CLI. Where containerlab is not installed every operation fails with an
 * {@link UnsupportedError} that names the way out (`--provider netns`), rather than half-working.
 * Untested here: this machine has neither containerlab nor a Docker engine.
 */
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Lab } from '../../lab/normalise.ts';
import type { Impair } from '../../lab/schema.ts';
import {
  NotFoundError, UnsupportedError,
  type DestroyReport, type ExecResult, type LabStatus, type Progress, type TwinProvider,
} from '../../provider.ts';
import { labDir, nodeDir, RUN_ROOT } from '../netns/names.ts';
import { run, runOk } from '../netns/sh.ts';
import { CLAB_PREFIX, exportClab } from './export.ts';

/** The first `name` on PATH, or undefined. */
export function onPath(name: string, path = process.env.PATH ?? ''): string | undefined {
  for (const d of path.split(delimiter)) if (d && existsSync(join(d, name))) return join(d, name);
  return undefined;
}

const clabDir = (lab: string) => join(labDir(lab), 'clab');
const topoFile = (lab: string) => join(clabDir(lab), `${lab}.clab.yml`);

export class ContainerlabProvider implements TwinProvider {
  readonly name = 'containerlab';

  private cli(): string {
    const bin = onPath('containerlab');
    if (!bin) {
      throw new UnsupportedError('the containerlab CLI is not installed (not on PATH): install it (https://containerlab.dev/install/) and Docker, or run this lab on this host with --provider netns; "patronus twin export LAB.yaml --format clab" writes the topology for another machine');
    }
    return bin;
  }

  agentSocket(lab: string, node: string): string {
    return join(nodeDir(lab, node), 'agent.sock');
  }

  async deploy(lab: Lab, opts: { progress?: Progress } = {}): Promise<void> {
    const bin = this.cli();
    const files = exportClab(lab, clabDir(lab.name));
    opts.progress?.({ step: `exported ${files.length} files`, done: 1, total: 3 });
    await runOk([bin, 'deploy', '-t', topoFile(lab.name)]);
    opts.progress?.({ step: 'containerlab deploy', done: 2, total: 3 });
    const netem = join(clabDir(lab.name), `${lab.name}.netem.sh`);
    if (existsSync(netem)) await runOk(['sh', netem]);
    opts.progress?.({ step: 'impairments', done: 3, total: 3 });
  }

  async destroy(lab: string): Promise<DestroyReport> {
    const bin = this.cli();
    if (existsSync(topoFile(lab))) await runOk([bin, 'destroy', '-t', topoFile(lab), '--cleanup']);
    return { namespaces: [], processes: 0, pins: [] };
  }

  async list(): Promise<string[]> {
    this.cli();
    return existsSync(RUN_ROOT) ? readdirSync(RUN_ROOT).filter((d) => existsSync(topoFile(d))).sort() : [];
  }

  async stale(): Promise<string[]> {
    return [];
  }

  async inspect(lab: string): Promise<LabStatus> {
    const bin = this.cli();
    if (!existsSync(topoFile(lab))) return { lab, provider: this.name, state: 'absent', nodes: [] };
    const r = await run([bin, 'inspect', '-t', topoFile(lab), '--format', 'json']);
    const list = r.code === 0 ? (Object.values(JSON.parse(r.stdout || '{}')).flat() as { name: string; state: string; labels?: Record<string, string> }[]) : [];
    const nodes = list.map((c) => ({
      name: c.name.replace(`${CLAB_PREFIX}-${lab}-`, ''), kind: c.labels?.['patronus.dev/kind'] ?? '?', handle: c.name,
      present: c.state === 'running', processes: [], interfaces: [],
    }));
    return { lab, provider: this.name, state: nodes.length && nodes.every((n) => n.present) ? 'up' : 'partial', nodes };
  }

  async exec(lab: string, node: string, argv: string[], opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    this.cli();
    if (!existsSync(topoFile(lab))) throw new NotFoundError(`lab "${lab}" is not deployed with containerlab`);
    return run(['docker', 'exec', `${CLAB_PREFIX}-${lab}-${node}`, ...argv], opts);
  }

  async setImpairment(lab: string, endpoint: string, impair: Impair | null): Promise<void> {
    const bin = this.cli();
    const [node, iface] = endpoint.split(':');
    const args = impair
      ? [...(impair.delay !== undefined ? ['--delay', `${impair.delay}ms`] : []), ...(impair.jitter !== undefined ? ['--jitter', `${impair.jitter}ms`] : []),
        ...(typeof impair.loss === 'number' ? ['--loss', String(impair.loss * 100)] : []), ...(impair.rate !== undefined ? ['--rate', String(Math.round(impair.rate / 1000))] : [])]
      : ['--delay', '0ms'];
    await runOk([bin, 'tools', 'netem', 'set', '-n', `${CLAB_PREFIX}-${lab}-${node}`, '-i', iface!, ...args]);
  }

  async setLinkState(lab: string, endpoint: string, state: 'up' | 'down'): Promise<void> {
    const [node, iface] = endpoint.split(':');
    const r = await this.exec(lab, node!, ['ip', 'link', 'set', 'dev', iface!, state]);
    if (r.code !== 0) throw new NotFoundError(`${endpoint}: ${r.stderr.trim()}`);
  }
}

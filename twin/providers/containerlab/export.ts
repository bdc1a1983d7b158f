/**
 * Lab → containerlab topology (`<lab>.clab.yml`), using only keys containerlab's own JSON Schema knows:
 * every node a `linux` node running the Patronus node image, links as veth endpoints with their addresses,
 * everything the netns provider does with `ip`/`nft`/daemons turned into the node's `exec` list, router
 * configuration files written beside the topology and bound in. The topology format has no impairment
 * keys, so impairments become a `containerlab tools netem` script (`<lab>.netem.sh`) beside it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { Lab, LabNode } from '../../lab/normalise.ts';
import { birdConfig, frrConfig, planLab, natRules } from '../netns/index.ts';
import { nodeDir } from '../netns/names.ts';

/** The node image every exported node runs (docker/node.Dockerfile). */
export const NODE_IMAGE = 'patronus/node:dev';
/** Container names are `<prefix>-<lab>-<node>`: "pt" keeps them inside the project's name scheme. */
export const CLAB_PREFIX = 'pt';

export interface ClabExportOptions {
  /** Image for every node (default {@link NODE_IMAGE}). */
  image?: string;
}

/** A file the export writes, relative to the output folder. */
export interface ExportedFile { path: string; text: string }

const containerName = (lab: string, node: string) => `${CLAB_PREFIX}-${lab}-${node}`;

/** Where a node's configuration files sit beside the topology, relative to it. */
const confDir = (node: string) => `config/${node}`;

function nodeExec(lab: Lab, n: LabNode, plan: ReturnType<typeof planLab>[number]): string[] {
  // Addresses come from the link endpoints; the rest of the netns plan (bridges, routes) runs as `ip` here.
  const ip = [...plan.setup.filter((l) => !l.startsWith('address add')), ...plan.routes].map((l) => `ip ${l}`);
  const exec = [...ip];
  const nft = natRules(n);
  if (nft) exec.push(`sh -c 'printf "%s" "${nft.replace(/"/g, '\\"')}" | nft -f -'`);
  const dir = nodeDir(lab.name, n.name);
  if (n.router) {
    exec.push(`mkdir -p ${dir}`);
    if (n.router.daemon === 'bird') exec.push(`bird -c /etc/patronus/bird.conf -s ${dir}/bird.ctl -P ${dir}/bird.pid`);
    else {
      const common = `--vty_socket ${dir} -z ${dir}/zserv.api -u frr -g frr -A 127.0.0.1 -P 0`;
      exec.push(`chown -R frr:frr ${dir}`, `/usr/lib/frr/zebra -d -f /etc/patronus/zebra.conf ${common}`, `/usr/lib/frr/bgpd -d -f /etc/patronus/bgpd.conf ${common}`);
    }
  }
  if (n.kind === 'edge') {
    const clock = n.clock ? ` --clock-offset ${n.clock.offsetMs} --clock-drift ${n.clock.driftPpm}` : '';
    exec.push(`sh -c 'mkdir -p ${dir} && nohup patronus edge --node ${n.name} --state-dir ${dir}${clock} >${dir}/agent.log 2>&1 &'`);
  }
  exec.push(...n.exec);
  return exec;
}

/**
 * The containerlab topology of a lab as plain data (stringify it as YAML), plus the router configuration
 * files it binds. Example: `clabTopology(loadLab('labs/bird-frr-ebgp/lab.yaml')).topology.name` is "bird-frr-ebgp".
 */
export function clabTopology(lab: Lab, opts: ClabExportOptions = {}): { topology: Record<string, unknown>; files: ExportedFile[] } {
  const plans = new Map(planLab(lab).map((p) => [p.node, p]));
  const files: ExportedFile[] = [];
  const nodes: Record<string, unknown> = {};
  for (const n of Object.values(lab.nodes)) {
    const binds: string[] = [];
    if (n.router?.daemon === 'bird') {
      files.push({ path: `${confDir(n.name)}/bird.conf`, text: birdConfig(lab, n) });
      binds.push(`${confDir(n.name)}/bird.conf:/etc/patronus/bird.conf:ro`);
    } else if (n.router) {
      files.push({ path: `${confDir(n.name)}/zebra.conf`, text: `hostname ${n.name}\n` }, { path: `${confDir(n.name)}/bgpd.conf`, text: frrConfig(lab, n) });
      binds.push(`${confDir(n.name)}/zebra.conf:/etc/patronus/zebra.conf:ro`, `${confDir(n.name)}/bgpd.conf:/etc/patronus/bgpd.conf:ro`);
    }
    const exec = nodeExec(lab, n, plans.get(n.name)!);
    nodes[n.name] = {
      kind: 'linux',
      labels: { 'patronus.dev/kind': n.kind, ...(n.site && { 'patronus.dev/site': n.site }), ...(n.wan && { 'patronus.dev/transport': n.wan.transport }), ...n.labels },
      sysctls: plans.get(n.name)!.sysctls,
      ...(binds.length && { binds }),
      ...(exec.length && { exec }),
    };
  }
  const links = lab.links.map((l) => ({
    type: 'veth',
    endpoints: l.endpoints.map((e) => ({ node: e.node, interface: e.interface, ...(e.mac && { mac: e.mac }), ...(e.ipv4 && { ipv4: e.ipv4 }), ...(e.ipv6 && { ipv6: e.ipv6 }) })),
    mtu: l.mtu,
  }));
  const topology = {
    name: lab.name,
    prefix: CLAB_PREFIX,
    mgmt: { network: `${CLAB_PREFIX}-${lab.name}` },
    topology: {
      kinds: { linux: { image: opts.image ?? NODE_IMAGE } },
      nodes,
      ...(links.length && { links }),
    },
  };
  return { topology, files };
}

/**
 * Loss as one fraction: netem's CLI wrapper takes only a uniform percentage, so a Gilbert–Elliott model
 * is exported as its mean loss p/(p+r)·lossBad + r/(p+r)·lossGood (bursts are lost; the script says so).
 */
function meanLoss(loss: unknown): number | undefined {
  if (typeof loss === 'number') return loss;
  const l = loss as { model?: string; p?: number; r?: number; lossGood?: number; lossBad?: number } | undefined;
  if (!l?.model || l.p === undefined) return undefined;
  if (l.model === 'uniform') return l.p;
  const r = l.r ?? 1;
  return l.p + r === 0 ? 0 : (l.p / (l.p + r)) * (l.lossBad ?? 1) + (r / (l.p + r)) * (l.lossGood ?? 0);
}

/**
 * The impairments of a lab as a shell script of `containerlab tools netem set` calls (rate in kbit/s, loss
 * in percent, as that command takes them), one per impaired endpoint and direction; `down` becomes an
 * `ip link set down` inside the container. Returns undefined when nothing is impaired.
 */
export function netemScript(lab: Lab): string | undefined {
  const lines: string[] = [];
  for (const l of lab.links) {
    for (const e of l.endpoints) {
      const i = e.impair;
      if (!i) continue;
      const c = containerName(lab.name, e.node);
      const args = [
        ...(i.delay !== undefined ? ['--delay', `${i.delay}ms`] : []),
        ...(i.jitter !== undefined ? ['--jitter', `${i.jitter}ms`] : []),
        ...(meanLoss(i.loss) !== undefined ? ['--loss', String(+(meanLoss(i.loss)! * 100).toFixed(6))] : []),
        ...(i.rate !== undefined ? ['--rate', String(Math.max(1, Math.round(i.rate / 1000)))] : []),
      ];
      if (args.length) lines.push(`containerlab tools netem set -n ${c} -i ${e.interface} ${args.join(' ')}`);
      if (typeof i.loss === 'object') lines.push(`# ${c} ${e.interface}: ${i.loss.model} loss exported as its mean; bursts are not reproduced`);
      if ((i as { schedule?: unknown; trace?: unknown }).schedule || (i as { trace?: unknown }).trace) lines.push(`# ${c} ${e.interface}: schedules and traces are not exported (static values only)`);
      if (i.down) lines.push(`docker exec ${c} ip link set dev ${e.interface} down`);
    }
  }
  if (!lines.length) return undefined;
  return ['#!/bin/sh', `# generated by patronus twin export: impairments of lab ${lab.name} (containerlab topologies have no impairment keys)`, 'set -e', ...lines, ''].join('\n');
}

/**
 * Write `<out>/<lab>.clab.yml`, the router configuration files it binds, and `<out>/<lab>.netem.sh` when
 * the lab has impairments. Returns the paths written.
 */
export function exportClab(lab: Lab, outDir: string, opts: ClabExportOptions = {}): string[] {
  const { topology, files } = clabTopology(lab, opts);
  const written: string[] = [];
  mkdirSync(outDir, { recursive: true });
  const yml = join(outDir, `${lab.name}.clab.yml`);
  writeFileSync(yml, `# generated by patronus twin export from ${lab.file}\n${stringify(topology, { lineWidth: 0 })}`);
  written.push(yml);
  for (const f of files) {
    const p = join(outDir, f.path);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, f.text);
    written.push(p);
  }
  const netem = netemScript(lab);
  if (netem) {
    const p = join(outDir, `${lab.name}.netem.sh`);
    writeFileSync(p, netem, { mode: 0o755 });
    written.push(p);
  }
  return written;
}

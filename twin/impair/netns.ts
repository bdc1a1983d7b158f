/**
 * The delay-line engine on the netns provider: starting one pt-delayline per impairable link (in the
 * link's hidden namespace, see names.ts) and finding the delay line and direction behind an endpoint.
 */
import type { Lab } from '../lab/normalise.ts';
import type { Impair } from '../lab/schema.ts';
import { delayLineSocket, labDir, linkIf, linkNsName, nsName } from '../providers/netns/names.ts';
import { mapLimit, run, runOk } from '../providers/netns/sh.ts';
import { DelayLine } from './control.ts';
import { linkSeed, startDelayLine } from './delayline.ts';
import { join } from 'node:path';
import { existsSync } from 'node:fs';

/**
 * Offloads off on both veths of each side: with checksum offload a frame crosses the delay line with its
 * checksum not yet computed and the far stack drops it; with TSO/GRO a 64 KB super-frame arrives that
 * cannot be sent on as one frame.
 */
const OFFLOADS = ['tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'];

/** Start the delay lines of every impairable link of a lab whose namespaces and veths exist. */
export async function startLabDelayLines(lab: Lab, parallel = 8): Promise<void> {
  const lines = lab.links.map((l, position) => ({ l, position })).filter((x) => x.l.impairable);
  await mapLimit(lines, parallel, async ({ l, position }) => {
    const ns = linkNsName(lab.name, position);
    for (const side of [0, 1] as const) {
      const e = l.endpoints[side];
      await runOk(['ip', 'netns', 'exec', nsName(lab.name, e.node), 'ethtool', '-K', e.interface, ...OFFLOADS]);
      await runOk(['ip', 'netns', 'exec', ns, 'ethtool', '-K', linkIf(side), ...OFFLOADS]);
    }
    await startDelayLine({
      ns, a: linkIf(0), b: linkIf(1), socket: delayLineSocket(lab.name, position),
      log: join(labDir(lab.name), 'links', `l${position}.log`), seed: linkSeed(lab.seed ?? 1, position),
    });
  });
}

/** The delay line carrying traffic that leaves `endpoint`, and its direction; undefined for a plain veth link. */
export function delayLineOf(lab: string, links: [string, string][], endpoint: string): { line: DelayLine; dir: 0 | 1; position: number } | undefined {
  const position = links.findIndex((l) => l.includes(endpoint));
  if (position < 0) return undefined;
  const socket = delayLineSocket(lab, position);
  if (!existsSync(socket)) return undefined;
  return { line: new DelayLine(socket), dir: links[position]!.indexOf(endpoint) as 0 | 1, position };
}

/** Whether the kernel has netem (probed once by adding it to a throw-away qdisc of loopback in `ns`). */
let netem: boolean | undefined;
export async function hasNetem(ns: string): Promise<boolean> {
  if (netem === undefined) {
    const r = await run(['modprobe', '-n', 'sch_netem']);
    const probe = await run(['tc', '-n', ns, 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '0ms']);
    netem = probe.code === 0 || (r.code === 0 && !/not found|FATAL/i.test(r.stderr));
    if (probe.code === 0) await run(['tc', '-n', ns, 'qdisc', 'del', 'dev', 'lo', 'root']);
  }
  return netem;
}

/** netem arguments for an impairment on a plain link (no schedule: that needs the delay line). */
export function netemArgs(i: Impair): string[] {
  const args = ['delay', `${i.delay ?? 0}ms`];
  if (i.jitter) args.push(`${i.jitter}ms`);
  const l = i.loss;
  if (typeof l === 'number') args.push('loss', `${l * 100}%`);
  else if (l?.model === 'uniform') args.push('loss', `${l.p * 100}%`);
  else if (l) args.push('loss', 'gemodel', `${l.p * 100}%`, `${l.r * 100}%`, `${(1 - l.lossBad) * 100}%`, `${(1 - l.lossGood) * 100}%`);
  if (i.rate) args.push('rate', `${i.rate}bit`);
  return args;
}

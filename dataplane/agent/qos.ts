/**
 * WAN egress QoS: an HTB shaper on every WAN interface whose bundle entry has `shape` (the transport's
 * committed upstream rate), with classes chosen by the cls_bpf classifier bpf/wan_egress_qos.bpf.c from the
 * overlay header's application class (docs/qos.md).
 *
 * Class tree of a shaped device at rate R (all classids under major 1):
 *   1:    htb root, default 1:3
 *   1:1   parent, rate = ceil = R
 *   1:2   control — the edge's own probes and BGP: prio 0, rate 2% of R (64 kbit .. 10% of R)
 *   1:3   default — unclassified traffic (no QoS class, underlay, direct internet): prio 1, weight 1
 *   1:1N  one per QoS class, minor 0x10 + QoS class id: priority classes prio 0 sharing 30% of R as their
 *         guaranteed rate; weighted classes prio 1, the rest of R in proportion to their weight
 * Every class may borrow up to R (ceil); HTB serves prio 0 first, so real-time packets never wait behind a
 * bulk queue. Leaves are byte FIFOs: 20 ms of R for prio-0 classes (late real-time packets are useless),
 * 100 ms of R for the others. Bursts are 1 ms of rate (at least two full frames) so the shaper stays smooth.
 *
 * Applying is idempotent: the root is created only when the device's root qdisc is not already this HTB,
 * classes and the filter are `replace`d in place (no packet is dropped by an unchanged re-apply), classes
 * the plan no longer has are deleted, and a device that is no longer shaped gets its root qdisc removed.
 *
 * @example
 *   const qos = new WanQos({ pinDir: '/sys/fs/bpf/patronus/agent-edge1', probePort: 4784 });
 *   qos.load(); qos.apply(bundle); qos.status().devices[0].classes   // per-class counters
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Bundle } from '../bundle/schema.ts';
import { packageRoot } from '../paths.ts';
import { BpfObject, scalar, typedMap, unpin } from '../xdp/index.ts';
import * as M from '../xdp/maps.ts';

/** HTB major of the root and the fixed minors. */
export const QOS_MAJOR = 1;
export const QOS_MINOR = { parent: 1, control: 2, default: 3, classBase: 0x10 } as const;
/** Full HTB classid (major << 16 | minor). */
export const classid = (minor: number): number => ((QOS_MAJOR << 16) | minor) >>> 0;
const hexId = (minor: number) => `${QOS_MAJOR}:${minor.toString(16)}`;

/** One HTB leaf (or the parent) of a shaped device; rates in bit/s, sizes in bytes. */
export interface HtbClassPlan {
  minor: number;
  /** 'parent', 'control', 'default' or the QoS class name. */
  name: string;
  rateBps: number;
  ceilBps: number;
  prio: number;
  quantum: number;
  burst: number;
  /** Leaf byte-FIFO limit; 0 for the parent. */
  limit: number;
}

/** The shaper of one WAN device. */
export interface DeviceQosPlan {
  device: string;
  rateBps: number;
  classes: HtbClassPlan[];
}

/** Everything {@link planQos} derives from a bundle: per-device trees and the classifier's tables. */
export interface QosPlan {
  devices: DeviceQosPlan[];
  /** Application class id → HTB classid (absent: default class). */
  classMap: Map<number, number>;
  controlClassid: number;
}

const CTRL_SHARE = 0.02, CTRL_MIN = 64_000, CTRL_MAX_SHARE = 0.1, PRIO_SHARE = 0.3;
const FRAME = 1514;

/** Bytes of `seconds` at `bps`, at least `min`. */
const bytesOf = (bps: number, seconds: number, min: number) => Math.max(min, Math.ceil((bps / 8) * seconds));

/**
 * The HTB plan of `bundle` (pure). Devices are the WAN interfaces with `shape`; without any the plan is empty.
 *
 * @example planQos(bundle).devices[0].classes.map((c) => [c.name, c.rateBps])
 *   // [['parent', 10e6], ['control', 200e3], ['default', ...], ['realtime', 3e6], ['best-effort', ...]]
 */
export function planQos(bundle: Bundle): QosPlan {
  const qos = [...bundle.qosClasses].sort((a, b) => a.id - b.id);
  const prio = qos.filter((q) => q.priority);
  const weighted = qos.filter((q) => !q.priority);
  const classMap = new Map<number, number>();
  for (const q of qos) for (const id of q.classIds) if (!classMap.has(id)) classMap.set(id, classid(QOS_MINOR.classBase + q.id));
  // DRR quantum ∝ weight (the default class has weight 1, the smallest there is) shares what classes borrow.
  const quantumOf = (w: number) => Math.min(60_000, FRAME * w);

  const devices: DeviceQosPlan[] = [];
  for (const w of bundle.interfaces.wan) {
    if (!w.shape) continue;
    const R = w.shape.rateBps;
    const leaf = (minor: number, name: string, rate: number, p: number, weight: number): HtbClassPlan => ({
      minor, name, rateBps: Math.max(8_000, Math.floor(rate)), ceilBps: R, prio: p, quantum: quantumOf(weight),
      burst: bytesOf(rate, 0.001, 2 * FRAME), limit: bytesOf(R, p === 0 ? 0.02 : 0.1, 10 * FRAME),
    });
    const ctrl = Math.min(Math.max(R * CTRL_SHARE, CTRL_MIN), R * CTRL_MAX_SHARE);
    const prioTotal = prio.length ? R * PRIO_SHARE : 0;
    const rest = R - ctrl - prioTotal;
    const weightSum = 1 + weighted.reduce((s, q) => s + q.weight, 0);
    const classes: HtbClassPlan[] = [
      { minor: QOS_MINOR.parent, name: 'parent', rateBps: R, ceilBps: R, prio: 0, quantum: 0, burst: bytesOf(R, 0.001, 2 * FRAME), limit: 0 },
      leaf(QOS_MINOR.control, 'control', ctrl, 0, 1),
      leaf(QOS_MINOR.default, 'default', (rest * 1) / weightSum, 1, 1),
      ...prio.map((q) => leaf(QOS_MINOR.classBase + q.id, q.name, prioTotal / prio.length, 0, q.weight)),
      ...weighted.map((q) => leaf(QOS_MINOR.classBase + q.id, q.name, (rest * q.weight) / weightSum, 1, q.weight)),
    ];
    devices.push({ device: w.name, rateBps: R, classes });
  }
  return { devices, classMap, controlClassid: classid(QOS_MINOR.control) };
}

/** `tc` argument lists that make `dev` carry `plan`'s classes (after the root exists); replace-only, idempotent. */
export function tcClassCommands(plan: DeviceQosPlan): string[][] {
  const out: string[][] = [];
  for (const c of plan.classes) {
    const parent = c.minor === QOS_MINOR.parent ? `${QOS_MAJOR}:` : hexId(QOS_MINOR.parent);
    const args = ['class', 'replace', 'dev', plan.device, 'parent', parent, 'classid', hexId(c.minor), 'htb',
      'rate', `${c.rateBps}bit`, 'ceil', `${c.ceilBps}bit`, 'burst', `${c.burst}b`, 'cburst', `${c.burst}b`];
    if (c.minor !== QOS_MINOR.parent) args.push('prio', String(c.prio), 'quantum', String(c.quantum));
    out.push(args);
    if (c.limit) out.push(['qdisc', 'replace', 'dev', plan.device, 'parent', hexId(c.minor), 'handle', `${c.minor.toString(16)}:`, 'bfifo', 'limit', String(c.limit)]);
  }
  return out;
}

/** Counters of one HTB class as `tc -s class show` reports them. */
export interface QosClassStatus {
  classid: string;
  name: string;
  rateBps: number;
  ceilBps: number;
  prio: number;
  packets: number;
  bytes: number;
  drops: number;
  overlimits: number;
  backlogBytes: number;
  backlogPackets: number;
}

/** /status of the shaper: per device its rate and classes. */
export interface QosStatus {
  devices: { device: string; rateBps: number; installed: boolean; directPackets: number; classes: QosClassStatus[] }[];
  /** Application class id → HTB classid as programmed, e.g. {"1": "1:12"}. */
  classMap: Record<string, string>;
  errors: string[];
}

/** Options of {@link WanQos}. */
export interface WanQosOptions {
  /** The agent's bpffs directory (maps shared by name with the overlay programs). */
  pinDir: string;
  /** UDP port of the probes, classified into the control class. Default 4784. */
  probePort?: number;
  /** Where the compiled objects are; default <package>/bpf/build. */
  objDir?: string;
  /** Runs `tc` (tests may point it into a namespace); default execFileSync('tc', args). */
  tc?: (args: string[]) => string;
}

const parseRate = (s: string): number => {
  const m = /^([\d.]+)([KMG]?)bit$/i.exec(s);
  if (!m) return 0;
  return Math.round(Number(m[1]) * ({ '': 1, K: 1e3, M: 1e6, G: 1e9 } as Record<string, number>)[m[2]!.toUpperCase()]!);
};

/** Parse `tc -s class show` text (iproute2 6.1 prints HTB classes as text even with -j). */
export function parseHtbClasses(text: string): Omit<QosClassStatus, 'name'>[] {
  const out: Omit<QosClassStatus, 'name'>[] = [];
  for (const block of text.split(/\n(?=class )/)) {
    const head = /^class htb (\S+) .*?(?:prio (\d+) )?rate (\S+) ceil (\S+)/m.exec(block);
    if (!head) continue;
    const sent = /Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)/.exec(block);
    const backlog = /backlog (\d+)b (\d+)p/.exec(block);
    out.push({
      classid: head[1]!, prio: Number(head[2] ?? 0), rateBps: parseRate(head[3]!), ceilBps: parseRate(head[4]!),
      bytes: Number(sent?.[1] ?? 0), packets: Number(sent?.[2] ?? 0), drops: Number(sent?.[3] ?? 0), overlimits: Number(sent?.[4] ?? 0),
      backlogBytes: Number(backlog?.[1] ?? 0), backlogPackets: Number(backlog?.[2] ?? 0),
    });
  }
  return out;
}

interface QdiscJson { kind: string; handle: string; root?: boolean; options?: { default?: string; direct_packets_stat?: number } }

/** The shaper of an agent: loads the classifier, installs/replaces/removes the HTB trees, reports counters. */
export class WanQos {
  private obj?: BpfObject;
  private plan: QosPlan = { devices: [], classMap: new Map(), controlClassid: 0 };
  private shaped = new Set<string>();
  private errors: string[] = [];
  private readonly tc: (args: string[]) => string;

  constructor(private readonly opts: WanQosOptions) {
    this.tc = opts.tc ?? ((args) => execFileSync('tc', args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString());
  }

  private get progPin(): string { return join(this.opts.pinDir, 'prog_pt_wan_qos'); }

  /** Load the classifier (maps pinned by name under pinDir) and pin it for `tc filter ... object-pinned`. */
  load(): void {
    const dir = this.opts.objDir ?? join(packageRoot(), 'bpf', 'build');
    this.obj = BpfObject.open(join(dir, M.PROGRAMS.wanQos.object), { pinRoot: this.opts.pinDir });
    this.obj.load();
    // A pin left by an earlier agent may hold an older build: re-pin this one.
    if (existsSync(this.progPin)) unpin(this.progPin);
    this.obj.program(M.PROGRAMS.wanQos.program).pin(this.progPin);
  }

  /** WAN interface names the current plan shapes (fib.ts marks their paths PT_PATH_SHAPED). */
  shapedDevices(bundle: Bundle): Set<string> {
    return new Set(bundle.interfaces.wan.filter((w) => w.shape).map((w) => w.name));
  }

  /**
   * Install the plan of `bundle`: classifier tables first (so a new class never sees a stale mapping), then
   * per shaped device root, classes, leaves and filter; then remove what the bundle no longer shapes.
   * Throws on a failing `tc` (the message names the device and command).
   */
  apply(bundle: Bundle): void {
    if (!this.obj) this.load();
    const plan = planQos(bundle);
    const cfg = typedMap(this.obj!.map('pt_qos_config'), scalar('u32'), M.qosConfig);
    cfg.set(0, { control_classid: plan.controlClassid, probe_port: this.opts.probePort ?? 4784, flags: 0 });
    const classes = typedMap(this.obj!.map('pt_qos_classes'), scalar('u32'), M.qosClass);
    for (let id = 0; id < M.QOS_MAX_CLASSES; id++) {
      const want = plan.classMap.get(id) ?? 0;
      if ((classes.get(id)?.classid ?? 0) !== want) classes.set(id, { classid: want });
    }
    this.errors = [];
    const wanted = new Set(plan.devices.map((d) => d.device));
    for (const d of plan.devices) this.install(d);
    for (const dev of new Set([...this.shaped, ...bundle.interfaces.wan.map((w) => w.name)])) {
      if (!wanted.has(dev)) this.remove(dev);
    }
    this.shaped = wanted;
    this.plan = plan;
  }

  private run(dev: string, args: string[]): string {
    try {
      return this.tc(args);
    } catch (e) {
      const err = e as { stderr?: Buffer; message: string };
      throw new Error(`QoS on ${dev}: tc ${args.join(' ')}: ${err.stderr?.toString().trim() || err.message}`);
    }
  }

  private root(dev: string): QdiscJson | undefined {
    return (JSON.parse(this.run(dev, ['-j', 'qdisc', 'show', 'dev', dev]) || '[]') as QdiscJson[]).find((q) => q.root);
  }

  private ours(q: QdiscJson | undefined): boolean {
    return q?.kind === 'htb' && q.handle === `${QOS_MAJOR}:` && q.options?.default === `0x${QOS_MINOR.default.toString(16)}`;
  }

  private install(d: DeviceQosPlan): void {
    if (!this.ours(this.root(d.device))) {
      this.run(d.device, ['qdisc', 'replace', 'dev', d.device, 'root', 'handle', `${QOS_MAJOR}:`, 'htb', 'default', QOS_MINOR.default.toString(16)]);
    }
    for (const args of tcClassCommands(d)) this.run(d.device, args);
    const want = new Set(d.classes.map((c) => hexId(c.minor)));
    // Leaves first: a class with children cannot be deleted.
    const stale = parseHtbClasses(this.run(d.device, ['class', 'show', 'dev', d.device])).map((c) => c.classid).filter((id) => !want.has(id));
    for (const id of stale.reverse()) this.run(d.device, ['class', 'del', 'dev', d.device, 'classid', id]);
    this.run(d.device, ['filter', 'replace', 'dev', d.device, 'parent', `${QOS_MAJOR}:`, 'protocol', 'all', 'prio', '1', 'handle', '1',
      'bpf', 'object-pinned', this.progPin]);
  }

  private remove(dev: string): void {
    try {
      if (this.ours(this.root(dev))) this.run(dev, ['qdisc', 'del', 'dev', dev, 'root']);
    } catch (e) {
      // A device that disappeared with the bundle has nothing left to remove.
      this.errors.push((e as Error).message);
    }
  }

  /** The installed trees with per-class counters (reads `tc -s`). */
  status(): QosStatus {
    const devices: QosStatus['devices'] = [];
    for (const d of this.plan.devices) {
      try {
        const root = this.root(d.device);
        const names = new Map(d.classes.map((c) => [hexId(c.minor), c.name]));
        const classes = parseHtbClasses(this.run(d.device, ['-s', 'class', 'show', 'dev', d.device]))
          .map((c) => ({ ...c, name: names.get(c.classid) ?? '?' }));
        devices.push({ device: d.device, rateBps: d.rateBps, installed: this.ours(root), directPackets: root?.options?.direct_packets_stat ?? 0, classes });
      } catch (e) {
        devices.push({ device: d.device, rateBps: d.rateBps, installed: false, directPackets: 0, classes: [] });
        this.errors.push((e as Error).message);
      }
    }
    const classMap = Object.fromEntries([...this.plan.classMap].map(([app, id]) => [String(app), `${id >>> 16}:${(id & 0xffff).toString(16)}`]));
    return { devices, classMap, errors: [...new Set(this.errors)] };
  }

  /** Close the object; the filters hold the program, so shaping continues after the agent exits. */
  close(): void {
    this.obj?.close();
  }
}

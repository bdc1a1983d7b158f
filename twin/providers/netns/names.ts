/**
 * Names of everything the netns provider creates, all derived from the lab name so that clean-up finds
 * them after a crash: namespaces `pt.<lab>.<node>` (lab and node names cannot contain "."), state and logs
 * under /run/patronus/<lab>/, BPF pins under /sys/fs/bpf/patronus/<lab>/. Interfaces live inside the
 * lab's namespaces and vanish with them; nothing is created in the host namespace.
 */
import { join } from 'node:path';

export const NS_PREFIX = 'pt.';
export const RUN_ROOT = process.env.PATRONUS_RUN_DIR ?? '/run/patronus';
export const BPF_ROOT = '/sys/fs/bpf/patronus';

export const nsName = (lab: string, node: string) => `${NS_PREFIX}${lab}.${node}`;

/**
 * `{lab, node}` from a namespace name, or undefined when it is not one of ours. Internal namespaces of a
 * lab (names starting with "_", e.g. the link namespace `pt.<lab>._l3` holding a delay line) are the
 * lab's too, so destroy finds them, but carry `internal: true` and are never shown as nodes.
 */
export function parseNsName(ns: string): { lab: string; node: string; internal?: true } | undefined {
  const m = /^pt\.([a-z0-9][a-z0-9-]*)\.(_?)([a-z0-9][a-z0-9-]*)$/.exec(ns);
  if (!m) return undefined;
  return m[2] ? { lab: m[1]!, node: `_${m[3]!}`, internal: true } : { lab: m[1]!, node: m[3]! };
}

/**
 * The hidden namespace between the two endpoints of an impaired link: `pt.<lab>._l<position>`, where
 * position is the link's place in the normalised lab's link list (and in the state file's `links`).
 * It holds veth `e0` (facing endpoint 0) and `e1` (facing endpoint 1) and the link's pt-delayline.
 */
export const linkNsName = (lab: string, position: number) => `${NS_PREFIX}${lab}._l${position}`;
/** Link-namespace interface facing endpoint `side` of the link. */
export const linkIf = (side: 0 | 1) => `e${side}`;
/** Control socket of a link's delay line. */
export const delayLineSocket = (lab: string, position: number) => join(RUN_ROOT, lab, 'links', `l${position}.sock`);

export const labDir = (lab: string) => join(RUN_ROOT, lab);
export const nodeDir = (lab: string, node: string) => join(RUN_ROOT, lab, 'nodes', node);
export const stateFile = (lab: string) => join(RUN_ROOT, lab, 'lab.json');
export const bpfDir = (lab: string) => join(BPF_ROOT, lab);
/** Bridge inside a `wan` node in bridge mode. */
export const WAN_BRIDGE = 'ptbr0';

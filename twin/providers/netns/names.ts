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

/** `{lab, node}` from a namespace name, or undefined when it is not one of ours. */
export function parseNsName(ns: string): { lab: string; node: string } | undefined {
  const m = /^pt\.([a-z0-9][a-z0-9-]*)\.([a-z0-9][a-z0-9-]*)$/.exec(ns);
  return m ? { lab: m[1]!, node: m[2]! } : undefined;
}

export const labDir = (lab: string) => join(RUN_ROOT, lab);
export const nodeDir = (lab: string, node: string) => join(RUN_ROOT, lab, 'nodes', node);
export const stateFile = (lab: string) => join(RUN_ROOT, lab, 'lab.json');
export const bpfDir = (lab: string) => join(BPF_ROOT, lab);
/** Bridge inside a `wan` node in bridge mode. */
export const WAN_BRIDGE = 'ptbr0';

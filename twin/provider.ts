/**
 * The twin provider interface: every way of running a lab (netns, mininet, containerlab) implements the
 * same six operations, and the CLI and scenario runner only ever talk to this interface.
 */
import type { Impair } from './lab/schema.ts';
import type { Lab } from './lab/normalise.ts';

/** Progress report for long operations: `done` of `total` steps, with a short label. */
export type Progress = (p: { step: string; done: number; total: number }) => void;

export interface ExecResult { code: number; stdout: string; stderr: string }

export interface ProcessInfo { pid: number; command: string }

export interface InterfaceInfo { name: string; state: string; addresses: string[] }

export interface NodeStatus {
  name: string;
  kind: string;
  /** Namespace (netns), container (containerlab) or mininet host name. */
  handle: string;
  present: boolean;
  processes: ProcessInfo[];
  interfaces: InterfaceInfo[];
  /** Edge nodes: the agent's own status report, if it answered. */
  agent?: Record<string, unknown>;
  /** Router nodes: the daemon and its BGP sessions as it reports them. */
  router?: { daemon: string; sessions: { peer: string; state: string }[] };
}

export interface LabStatus {
  lab: string;
  provider: string;
  /** deploying | up | partial (resources exist but the state file is gone or incomplete) | absent */
  state: 'deploying' | 'up' | 'partial' | 'absent';
  nodes: NodeStatus[];
}

export interface DestroyReport { namespaces: string[]; processes: number; pins: string[] }

export interface TwinProvider {
  readonly name: string;
  /** Build every node, link and process of the lab. Fails if the lab is already deployed. */
  deploy(lab: Lab, opts?: { progress?: Progress }): Promise<void>;
  /** Remove everything the lab created (found by name prefix, so it works after a crash too). */
  destroy(lab: string, opts?: { progress?: Progress }): Promise<DestroyReport>;
  /** Labs whose resources exist, by name. */
  list(): Promise<string[]>;
  /** Labs left behind by a crash: resources without a healthy deployment record. */
  stale(): Promise<string[]>;
  inspect(lab: string): Promise<LabStatus>;
  /** Run a command inside a node. */
  exec(lab: string, node: string, argv: string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Impair traffic leaving `endpoint` ("node:interface"); null clears it. */
  setImpairment(lab: string, endpoint: string, impair: Impair | null): Promise<void>;
  /** Bring a link endpoint administratively up or down (a cut, as the far end sees it too). */
  setLinkState(lab: string, endpoint: string, state: 'up' | 'down'): Promise<void>;
  /**
   * One endpoint of every link tagged with shared-risk group `tag` (links that fail together, e.g. two
   * "diverse" circuits in one conduit). Providers that do not record groups leave this out.
   */
  srlgLinks?(lab: string, tag: string): Promise<string[]>;
  /** Filesystem path of the node's agent control socket (edge nodes). */
  agentSocket(lab: string, node: string): string;
}

/** Base of every twin error. */
export class TwinError extends Error {
  override name = 'TwinError';
}
/** The lab is already deployed (or its leftovers exist). */
export class LabExistsError extends TwinError { override name = 'LabExistsError'; }
/** The lab, node or endpoint named does not exist. */
export class NotFoundError extends TwinError { override name = 'NotFoundError'; }
/** The host lacks a kernel feature or program the operation needs. */
export class UnsupportedError extends TwinError { override name = 'UnsupportedError'; }
/** A command the provider ran failed. */
export class CommandError extends TwinError {
  override name = 'CommandError';
  constructor(readonly argv: string[], readonly code: number | null, readonly stderr: string, readonly input?: string) {
    super(`${argv.join(' ')} failed (exit ${code}): ${stderr.trim()}`);
  }
}
export const isTwinError = (e: unknown): e is TwinError => e instanceof TwinError;

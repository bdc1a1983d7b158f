/**
 * Processes a lab test starts inside network namespaces of its own (test/labs/enrol, promotion-e2e): their
 * output is kept so a failed wait can show the last lines, plus a checked command runner and a poll helper.
 *
 *   const { children, logs, sh, start, until } = netnsProcs();
 *   start('pt.x.ctl', ['dist/patronus.js', 'controller', 'serve']);
 *   await until('controller listening', 20_000, async () => (logs.some((l) => l.includes('edge API on')) ? true : undefined));
 */
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export interface NetnsProcs {
  /** Every process `start` launched (stop them in the test's teardown). */
  children: ChildProcess[];
  /** Their stdout/stderr lines, prefixed with the namespace. */
  logs: string[];
  /** Runs a command synchronously; throws with its stderr on a non-zero exit; returns stdout. */
  sh: (args: string[]) => string;
  /** Starts `node argv…` inside namespace `ns` (ip netns exec), output collected into `logs`. */
  start: (ns: string, argv: string[]) => ChildProcess;
  /** Polls `f` every `pollMs` (default 100) until it yields a value; fails the test after `ms` with the last log lines. */
  until: <T>(what: string, ms: number, f: () => Promise<T | undefined>, pollMs?: number) => Promise<T>;
}

export function netnsProcs(logTail = 20): NetnsProcs {
  const children: ChildProcess[] = [];
  const logs: string[] = [];
  return {
    children, logs,
    sh: (args) => {
      const r = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    },
    start: (ns, argv) => {
      const c = spawn('ip', ['netns', 'exec', ns, process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(c);
      for (const s of [c.stdout!, c.stderr!]) s.on('data', (d: Buffer) => logs.push(`${ns}: ${d.toString().trim()}`));
      return c;
    },
    until: async (what, ms, f, pollMs = 100) => {
      for (const end = Date.now() + ms; ; await new Promise((r) => setTimeout(r, pollMs))) {
        const v = await f().catch(() => undefined);
        if (v !== undefined) return v;
        if (Date.now() > end) assert.unreachable(`${what} within ${ms} ms; logs:\n${logs.slice(-logTail).join('\n')}`);
      }
    },
  };
}

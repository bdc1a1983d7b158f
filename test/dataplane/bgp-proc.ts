// Runs dataplane/bgp/run.ts in a twin namespace and talks to it over its JSON-lines control stream.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';

export type Line = Record<string, unknown> & { event?: string; reply?: string; error?: string };

export class SpeakerProc {
  readonly lines: Line[] = [];
  private child: ChildProcess;
  private buf = '';
  private waiters: (() => void)[] = [];
  stderr = '';
  constructor(ns: string, config: unknown, file: string) {
    writeFileSync(file, JSON.stringify(config));
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', 'dataplane/bgp/run.ts', file], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const l = this.buf.slice(0, i); this.buf = this.buf.slice(i + 1);
        try { this.lines.push(JSON.parse(l) as Line); } catch { this.lines.push({ event: 'raw', text: l }); }
      }
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.stderr!.on('data', (d) => { this.stderr += d; });
  }
  /** Waits for a line after index `from` that satisfies `pred`. */
  async waitLine(pred: (l: Line) => boolean, ms = 15_000, from = 0): Promise<Line> {
    const t0 = Date.now();
    for (;;) {
      const hit = this.lines.slice(from).find(pred);
      if (hit) return hit;
      if (Date.now() - t0 > ms || this.child.exitCode !== null) throw new Error(`no matching line within ${ms} ms (exit ${this.child.exitCode}); stderr: ${this.stderr.slice(-500)}`);
      await new Promise<void>((r) => { this.waiters.push(r); setTimeout(r, 100); });
    }
  }
  async request(cmd: Record<string, unknown>): Promise<Line> {
    const from = this.lines.length;
    this.child.stdin!.write(JSON.stringify(cmd) + '\n');
    return this.waitLine((l) => l.reply === cmd.cmd || l.error !== undefined, 10_000, from);
  }
  async routes(): Promise<{ prefix: string; peer: string; nextHop: string; asPath: string; communities?: string[]; largeCommunities?: string[] }[]> {
    return (await this.request({ cmd: 'routes' })).routes as never;
  }
  async status(): Promise<{ address: string; state: string; reason: string }[]> {
    return (await this.request({ cmd: 'status' })).neighbors as never;
  }
  get exited() { return this.child.exitCode !== null; }
  kill() { if (this.child.exitCode === null) this.child.kill('SIGKILL'); }
}

/** Running host programs (ip, tc, sysctl, daemons) with captured output, optional stdin and a timeout. */
import { spawn } from 'node:child_process';
import { CommandError, type ExecResult } from '../../provider.ts';

export function run(argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout!.on('data', (d) => { stdout += d; });
    child.stderr!.on('data', (d) => { stderr += d; });
    const timer = opts.timeoutMs ? setTimeout(() => { stderr += `\n(timed out after ${opts.timeoutMs} ms)`; child.kill('SIGKILL'); }, opts.timeoutMs) : undefined;
    child.on('error', (e) => { if (timer) clearTimeout(timer); reject(new CommandError(argv, null, e.message)); });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    if (child.stdin) {
      child.stdin.on('error', () => { /* the program exited without reading: its exit code tells */ });
      child.stdin.end(opts.input);
    }
  });
}

/** Like {@link run} but a non-zero exit throws {@link CommandError} carrying stderr (and the batch input). */
export async function runOk(argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw new CommandError(argv, r.code, r.stderr || r.stdout, opts.input);
  return r.stdout;
}

/** `ip [-n ns] -batch -` with the given lines; nothing runs when the list is empty. */
export async function ipBatch(ns: string | undefined, lines: string[]): Promise<void> {
  if (!lines.length) return;
  await runOk(['ip', ...(ns ? ['-n', ns] : []), '-batch', '-'], { input: lines.join('\n') + '\n' });
}

/** Run `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) { const i = next++; out[i] = await fn(items[i]!, i); }
  }));
  return out;
}

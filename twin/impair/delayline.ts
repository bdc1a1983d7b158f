/**
 * Native helpers of the impairment engine and how to start one: `pt-delayline` (one per impaired link,
 * inside the link's hidden namespace) and `pt-probe` (raw-frame probes for calibration), both built by
 * twin/native/Makefile through the project's one native build step (scripts/build.mjs).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../dataplane/index.ts';
import { UnsupportedError, CommandError } from '../provider.ts';
import { DelayLine } from './control.ts';

/** Path of a native helper; throws {@link UnsupportedError} naming the build command when it is missing. */
export function nativeBin(name: 'pt-delayline' | 'pt-probe'): string {
  const p = join(packageRoot(), 'twin', 'native', 'build', name);
  if (!existsSync(p)) throw new UnsupportedError(`${p} is not built; run "node scripts/build.mjs twin-native" (or npm test / npm run demo, which build it)`);
  return p;
}

/**
 * Loss seed of one link from the lab's scenario seed: different per link, the same for the same seed.
 * Example: `linkSeed(1, 0)` is always the same number; `linkSeed(1, 1)` differs from it.
 */
export function linkSeed(labSeed: number, position: number): number {
  return (labSeed * 1_000_003 + position * 7919 + 1) % 2 ** 52;
}

/**
 * Start a delay line in namespace `ns` bridging `a` (direction 0 enters here) and `b`, with its control
 * socket at `socket` and log in `log`; resolves once it answers `ping`. It runs detached, so it lives as
 * long as the lab; destroy finds it by namespace membership.
 */
export async function startDelayLine(opts: { ns: string; a: string; b: string; socket: string; log: string; seed: number }): Promise<DelayLine> {
  mkdirSync(dirname(opts.socket), { recursive: true });
  const fd = openSync(opts.log, 'a');
  const argv = ['ip', 'netns', 'exec', opts.ns, nativeBin('pt-delayline'), '--a', opts.a, '--b', opts.b, '--control', opts.socket, '--seed', String(opts.seed)];
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
  child.unref();
  closeSync(fd);
  let exited: number | null = null;
  child.once('exit', (code) => { exited = code ?? 1; });
  const line = new DelayLine(opts.socket);
  const deadline = Date.now() + 5000;
  for (;;) {
    if (exited !== null) throw new CommandError(argv, exited, readFileSync(opts.log, 'utf8').slice(-2000));
    if (existsSync(opts.socket) && (await line.ping())) return line;
    if (Date.now() > deadline) throw new CommandError(argv, null, `delay line did not answer on ${opts.socket} within 5 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

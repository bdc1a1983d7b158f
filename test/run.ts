/**
 * The test command behind `npm test`: every `*.test.ts` file under test/ runs in its own child process
 * (uvu via tsx) with a per-file timeout. A crash, a non-zero exit without uvu's summary, or a timeout
 * counts as a failure. The run ends with exactly one line `N passed, M failed[, K skipped]` and exits 1
 * on any failure.
 *
 * Usage: node --import tsx test/run.ts [substring ...]
 * A file may raise its own timeout with a first-line comment `// timeout: 240` (seconds).
 * PATRONUS_TEST_TIMEOUT overrides the default of 180 s; PATRONUS_TEST_DIR the folder searched (test/).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const defaultTimeout = Number(process.env.PATRONUS_TEST_TIMEOUT ?? 180);

function findTests(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...findTests(p));
    else if (e.name.endsWith('.test.ts')) out.push(p);
  }
  return out.sort();
}

interface FileResult { file: string; passed: number; failed: number; skipped: number; ms: number; output: string; note: string }

const strip = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

function runFile(file: string): Promise<FileResult> {
  const head = readFileSync(file, 'utf8').split('\n', 1)[0] ?? '';
  const m = /^\/\/\s*timeout:\s*(\d+)/.exec(head);
  const timeout = Number(m?.[1] ?? defaultTimeout) * 1000;
  const t0 = Date.now();
  return new Promise((resolve) => {
    // detached: the file gets its own process group so a timeout kills everything it started.
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root, env: { ...process.env, FORCE_COLOR: '0' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid!, 'SIGTERM'); } catch { /* already gone */ }
      setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, 5000).unref();
    }, timeout);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const text = strip(output);
      const total = Number(/Total:\s+(\d+)/.exec(text)?.[1] ?? NaN);
      const passed = Number(/Passed:\s+(\d+)/.exec(text)?.[1] ?? 0);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(text)?.[1] ?? 0);
      let failed = Number.isNaN(total) ? 0 : total - passed - skipped;
      let note = '';
      if (timedOut) { note = `timed out after ${timeout / 1000} s`; failed = Math.max(failed, 1); }
      else if (code !== 0) { note = `exit ${code ?? signal}`; failed = Math.max(failed, 1); }
      else if (Number.isNaN(total)) { note = 'no uvu summary (ran no test?)'; failed = 1; }
      resolve({ file: relative(root, file), passed, failed, skipped, ms: Date.now() - t0, output: text, note });
    });
  });
}

const filters = process.argv.slice(2);
const testDir = process.env.PATRONUS_TEST_DIR ?? join(root, 'test');
const files = findTests(testDir).filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
let passed = 0, failed = 0, skipped = 0;
const t0 = Date.now();
for (const f of files) {
  const r = await runFile(f);
  passed += r.passed; failed += r.failed; skipped += r.skipped;
  const status = r.failed ? 'FAIL' : 'ok  ';
  const extra = [r.skipped ? `${r.skipped} skipped` : '', r.note].filter(Boolean).join(', ');
  console.log(`${status} ${r.file}  ${r.passed} passed${r.failed ? `, ${r.failed} failed` : ''}${extra ? ` (${extra})` : ''}  ${(r.ms / 1000).toFixed(1)} s`);
  if (r.failed) console.log(r.output.split('\n').slice(-60).map((l) => `     | ${l}`).join('\n'));
  else if (r.skipped) for (const l of r.output.split('\n').filter((l) => /^skip:/.test(l.trim()))) console.log(`     ${l.trim()}`);
}
console.log(`${files.length} test files in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed || files.length === 0 ? 1 : 0);

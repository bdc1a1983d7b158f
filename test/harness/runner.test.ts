// timeout: 60
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

function runRunner(files: Record<string, string>) {
  const dir = mkdtempSync(join(root, 'test', '.tmp-runner-'));
  try {
    for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test', 'run.ts')], {
      cwd: root, encoding: 'utf8', env: { ...process.env, PATRONUS_TEST_DIR: dir, PATRONUS_TEST_TIMEOUT: '4' },
    });
    const lines = r.stdout.trim().split('\n');
    return { status: r.status, last: lines[lines.length - 1], out: r.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ok = (n: number) => `import { test } from 'uvu';\n${Array.from({ length: n }, (_, i) => `test('t${i}', () => {});`).join('\n')}\ntest.run();\n`;

test('counts tests across files and ends with the closing line', () => {
  const r = runRunner({ 'a.test.ts': ok(2), 'b.test.ts': ok(3) });
  assert.is(r.last, '5 passed, 0 failed');
  assert.is(r.status, 0);
});

test('counts failing and skipped tests and exits non-zero', () => {
  const r = runRunner({
    'a.test.ts': `import { test } from 'uvu';\nimport * as assert from 'uvu/assert';\ntest('good', () => {});\ntest('bad', () => { assert.is(1, 2); });\ntest.skip('later', () => {});\ntest.run();\n`,
  });
  assert.is(r.last, '1 passed, 1 failed, 1 skipped');
  assert.is(r.status, 1);
});

test('a crash, a silent file and a timeout each count as a failure', () => {
  const r = runRunner({
    'crash.test.ts': `throw new Error('boom');\n`,
    'empty.test.ts': `export {};\n`,
    'hang.test.ts': `setInterval(() => {}, 1000);\n`,
    'ok.test.ts': ok(1),
  });
  assert.is(r.last, '1 passed, 3 failed');
  assert.match(r.out, /timed out after 4 s/);
  assert.is(r.status, 1);
});

test.run();

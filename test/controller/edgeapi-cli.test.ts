// timeout: 60
/** `patronus controller …` on bad input: exit 2, one clear line, and the state directory is not created. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'pt-edgeapi-cli-'));
const state = join(dir, 'state');
test.after(() => rmSync(dir, { recursive: true, force: true }));
const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', 'controller', ...args, '--state', state], { encoding: 'utf8' });

test('a bad --listen, --san or --cert-days exits 2 naming the flag and creates no state', () => {
  for (const [args, flag, expected] of [
    [['serve', '--listen', 'nope'], '--listen', /expected ADDR:PORT/],
    [['serve', '--listen', '127.0.0.1:70000'], '--listen', /expected ADDR:PORT/],
    [['serve', '--san', 'bad name!'], '--san', /host name or IP address/],
    [['serve', '--cert-days', '0'], '--cert-days', /positive number/],
  ] as const) {
    const r = cli(...args);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(r.stderr.includes(flag), r.stderr);
    assert.match(r.stderr, expected);
    assert.not.ok(existsSync(state), `${args.join(' ')} created the state directory`);
  }
});

test('an enrolment token for an unusable edge name exits 2; a good one prints a pinned one-time token', () => {
  const r = cli('enrol-token', 'edge 1');
  assert.is(r.status, 2, r.stderr);
  assert.match(r.stderr, /edge name "edge 1" is not usable/);
  assert.not.ok(existsSync(state));
  const ok = cli('enrol-token', 'edge1', '--site', 's1');
  assert.is(ok.status, 0, ok.stderr);
  assert.match(ok.stdout.trim(), /^pt1\.[A-Za-z0-9_-]{43}\.[0-9a-f]{64}$/);
  const certs = cli('certs', '--json');
  assert.equal(JSON.parse(certs.stdout), []);
});

test.run();

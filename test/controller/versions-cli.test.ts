// timeout: 90
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, stateFiles } from '../../controller/store/index.ts';
import { hashToken } from '../../controller/opapi/index.ts';
import { edit, fixture, root } from './fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'pt-intent-cli-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const state = join(dir, 'state');
const lab = join(root, 'labs/two-site-dual-wan/lab.yaml');
const two = fixture('two-site-dual-wan');

function patronus(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'controller/cli/main.ts'), ...args], { cwd: root, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const write = (name: string, text: string) => { const f = join(dir, name); writeFileSync(f, text); return f; };

test('a malformed intent exits 2 naming file and key path and creates no state', () => {
  const bad = write('bad.yaml', edit(two.intentText, 'policy: full-mesh', 'policy: star'));
  const r = patronus('intent', 'push', bad, '--state', state, '--lab', lab);
  assert.is(r.code, 2);
  assert.match(r.err, new RegExp(`^${bad}:\\d+: topology\\.policy: `));
  assert.is(existsSync(state), false);
});

test('push, list, diff --json, rollback and show work on the state directory; the key and store are private', async () => {
  const v1 = patronus('intent', 'push', write('v1.yaml', two.intentText), '--state', state, '--lab', lab, '-m', 'first');
  assert.is(v1.code, 0, v1.err);
  assert.match(v1.out, /^version 1: 2 signed bundles \(key [0-9a-f]{16}\)/);
  const v2 = patronus('intent', 'push', write('v2.yaml', edit(two.intentText, 'jitter: 30ms', 'jitter: 20ms')), '--state', state, '--lab', lab, '-m', 'less jitter');
  assert.match(v2.out, /^version 2: .*changes the bundles of 2 of 2 edges since version 1/);
  const d = patronus('intent', 'diff', '1', '2', '--state', state, '--json');
  const j = JSON.parse(d.out);
  assert.equal(j.changes, [{ area: 'slaClasses', path: 'slaClasses.voice.jitter', kind: 'changed', old: 30, new: 20 }]);
  assert.is(j.blast.summary, 'changes the bundles of 2 of 2 edges');
  const human = patronus('intent', 'diff', '1', '2', '--state', state);
  assert.match(human.out, /changed\s+slaClasses\.voice\.jitter\s+30\s+20/);
  const rb = patronus('intent', 'rollback', '1', '--state', state, '--lab', lab);
  assert.match(rb.out, /^version 3 restores version 1/);
  const list = JSON.parse(patronus('intent', 'list', '--state', state, '--json').out);
  assert.equal(list.map((v: { id: number; restores: number | null; edges: number }) => [v.id, v.restores, v.edges]), [[3, 1, 2], [2, null, 2], [1, null, 2]]);
  assert.is(patronus('intent', 'show', '3', '--state', state, '--yaml').out, two.intentText);
  const f = stateFiles(state);
  assert.is(statSync(f.signingKey).mode & 0o777, 0o600);
  assert.is(statSync(f.store).mode & 0o777, 0o600);

  const missing = patronus('intent', 'show', '7', '--state', state);
  assert.equal([missing.code, missing.err.trim()], [2, 'intent show: (top level): no intent version 7 (versions are 1…3)']);
  const bad = patronus('intent', 'push', write('bad2.yaml', edit(two.intentText, 'loss: 1%', 'loss: lots')), '--state', state, '--lab', lab);
  assert.is(bad.code, 2);
  assert.match(bad.err, /bad2\.yaml:\d+: slaClasses\.voice\.loss: /);

  const store = await openStore(f.store);
  assert.is((await store.listVersions()).length, 3, 'the malformed push stored nothing');
  const audit = (await store.listAudit()).reverse();
  assert.equal(audit.map((e) => [e.action, e.outcome]), [['intent.push', 'ok'], ['intent.push', 'ok'], ['intent.rollback', 'ok'], ['intent.push', 'error']]);
  assert.ok(audit.every((e) => e.actor.startsWith('cli:')));
  await store.close();
});

test('token create prints the secret once and stores only its hash; a bad role exits 2', async () => {
  const r = patronus('token', 'create', 'ci', '--role', 'operator', '--state', state);
  assert.is(r.code, 0, r.err);
  const token = r.out.trim();
  assert.match(token, /^ptk_[A-Za-z0-9_-]{43}$/);
  const store = await openStore(stateFiles(state).store);
  const rec = await store.findOperatorToken(hashToken(token));
  assert.equal([rec!.name, rec!.role], ['ci', 'operator']);
  await store.close();
  assert.is(patronus('token', 'create', 'ci', '--role', 'viewer', '--state', state).code, 2, 'duplicate name');
  const badRole = patronus('token', 'create', 'x', '--role', 'root', '--state', state);
  assert.equal([badRole.code, badRole.err.trim()], [2, '--role: (top level): expected admin, operator or viewer, got "root"']);
});

test.run();

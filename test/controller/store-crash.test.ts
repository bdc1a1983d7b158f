// timeout: 120
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openStore } from '../../controller/store/index.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'pt-store-crash-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

const BUNDLES = 150;

// The writer appends versions of BUNDLES bundles each (about 300 kB per transaction, so most of its time is
// spent inside a transaction) plus an audit entry in the same tx, and prints each id once committed.
const writer = `
import { openStore } from ${JSON.stringify(join(root, 'controller/store/index.ts'))};
const s = await openStore(process.argv[1]);
const pad = 'x'.repeat(2000);
for (let i = 0; ; i++) {
  const bundles = Array.from({ length: ${BUNDLES} }, (_, e) => ({ edge: 'e' + e, hash: 'h' + i + '-' + e, envelope: { i, e, pad } }));
  const v = await s.tx(async (tx) => {
    const latest = await tx.latestVersion();
    const v = await tx.insertVersion({ parent: latest?.id ?? null, author: 'w', message: 'm' + i, intentYaml: 'y' + i, intentHash: 'h' + i }, bundles);
    await tx.appendAudit({ actor: 'w', action: 'intent.push', target: 'version:' + v.id, outcome: 'ok' });
    return v;
  });
  process.stdout.write(v.id + '\\n');
}
`;

function runAndKill(file: string, afterCommits: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', writer, file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let last = 0;
    let err = '';
    let buf = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) last = Number(l);
      // A few ms of jitter so the kill lands at a different point of the write loop each time.
      if (last >= afterCommits) setTimeout(() => child.kill('SIGKILL'), Math.floor(Math.random() * 7));
    });
    child.on('exit', (code, signal) => {
      if (signal === 'SIGKILL') resolve(last);
      else reject(new Error(`writer exited ${code}: ${err}`));
    });
  });
}

test('SIGKILL in the middle of a write loop leaves every committed version complete and no half version', async () => {
  const file = join(dir, 'store.db');
  let lastAcked = 0;
  for (let round = 0; round < 4; round++) {
    lastAcked = await runAndKill(file, lastAcked + 5);
    const db = new Database(file, { readonly: false });
    assert.is(db.pragma('integrity_check', { simple: true }), 'ok');
    assert.equal(db.pragma('foreign_key_check'), []);
    db.close();

    const s = await openStore(file);
    const versions = await s.listVersions();
    const ids = versions.map((v) => v.id).reverse();
    // Every version the writer saw committed survived; at most one more committed before its id was printed.
    assert.ok(ids.length >= lastAcked && ids.length <= lastAcked + 1, `acked ${lastAcked}, stored ${ids.length}`);
    assert.equal(ids, Array.from({ length: ids.length }, (_, i) => i + 1));
    for (const v of versions) {
      const bundles = await s.listBundles(v.id);
      assert.is(bundles.length, BUNDLES, `version ${v.id} has ${bundles.length} bundles`);
      assert.is(v.parent, v.id === 1 ? null : v.id - 1);
    }
    const audit = await s.listAudit({ action: 'intent.push', limit: 10_000 });
    assert.is(audit.length, ids.length, 'one audit entry per version, committed with it');
    lastAcked = ids.length;
    await s.close();
  }
});

test.run();

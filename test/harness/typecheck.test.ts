// timeout: 240
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

test('the whole tree type-checks under strict TypeScript', () => {
  const r = spawnSync(process.execPath, [`${root}/node_modules/typescript/bin/tsc`, '--noEmit', '-p', root], { encoding: 'utf8' });
  assert.is(r.status, 0, `tsc reported:\n${r.stdout}${r.stderr}`);
});

test.run();

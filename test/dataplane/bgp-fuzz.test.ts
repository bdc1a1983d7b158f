// timeout: 120
// The BGP decoder under mutation: a quick fuzz run (the long one is scripts/fuzz-bgp.ts, ≥ 1 M cases),
// and a replay of every crasher ever saved under testdata/bgp/crashers.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { checkInput, crasherDir, fuzz, readHex } from '../../scripts/fuzz-bgp.ts';
import { decodeMessage } from '../../dataplane/bgp/codec/index.ts';

test('saved crashers decode as data and keep the round-trip invariants', () => {
  const files = readdirSync(crasherDir).filter((f) => f.endsWith('.hex'));
  assert.ok(files.length >= 1);
  for (const f of files) assert.is(checkInput(readHex(join(crasherDir, f))), undefined, f);
});

test('a truncated message never decodes as a message', () => {
  const keepalive = new Uint8Array([...new Array(16).fill(0xff), 0, 19, 4]);
  for (let n = 0; n < 19; n++) assert.not.ok(decodeMessage(keepalive.subarray(0, n), { as4: true }).ok, `${n} bytes`);
});

test('a quick fuzz run of 30 000 mutated messages finds nothing', () => {
  const r = fuzz(30_000, Number(process.env.PATRONUS_FUZZ_SEED ?? 7), false);
  assert.equal(r.findings.map((f) => f.problem.split('\n')[0]), []);
});

test.run();

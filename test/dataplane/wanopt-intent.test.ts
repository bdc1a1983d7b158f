// timeout: 60
/**
 * The intent's `wanopt` section through the compiler into the bundle (labs/wanopt-two-site/intent.yaml
 * against the two-site-dual-wan inventory, which has the same nodes and interfaces), its errors naming the
 * file and key path, and the steering flags the agent programs from it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { InputError } from '../../dataplane/errors.ts';
import { fibEntries } from '../../dataplane/xdp/fib.ts';
import * as M from '../../dataplane/xdp/maps.ts';
import { compileText, edit, errorOf, loadInventory, root } from '../controller/fixtures.ts';

const file = 'labs/wanopt-two-site/intent.yaml';
const text = readFileSync(`${root}${file}`, 'utf8');
const inventory = loadInventory('two-site-dual-wan');

test('the wanopt section compiles to class ids, FEC parameters and default ports on every edge', () => {
  const { bundles, warnings } = compileText(text, inventory, file);
  assert.equal(warnings, []);
  const b = bundles.get('edge1')!.bundle;
  const id = (app: string) => b.classifier.find((c) => c.appClass === app)!.classId;
  assert.equal(b.wanopt, {
    interceptPort: 7770, sessionPort: 7771, fecPort: 7772,
    classes: [{ appClass: 'files', classId: id('files') }],
    fec: [{ appClass: 'rtp', classId: id('rtp'), k: 8, m: 3, holdMs: 60, interleave: 1 }],
  });
  assert.equal(bundles.get('edge2')!.bundle.wanopt, b.wanopt);
  const env = { ifindex: () => 3, mac: () => '02:00:00:00:00:01', neighbour: () => '02:00:00:00:00:02' };
  const flags = new Map(fibEntries(b, env).maps.pt_steering.map((e) => [M.steerKey.decode(e.key).class_id, M.steerVal.decode(e.value).flags]));
  assert.is(flags.get(id('files')), M.SteerFlag.localTcp);
  assert.is(flags.get(id('rtp')), M.SteerFlag.localUdp);
  assert.is(flags.get(0), 0);
});

test('an intent without wanopt compiles to an empty section', () => {
  const plain = text.slice(0, text.indexOf('wanopt:'));
  const { bundles } = compileText(plain, inventory, file);
  assert.equal(bundles.get('edge1')!.bundle.wanopt, {});
});

const bad: [string, string, string, RegExp][] = [
  ['an unknown WAN-opt class', 'classes: [files]', 'classes: [filez]', /wanopt\.classes\[0\]: application class "filez" is not defined \(known: default, files, rtp\)/],
  ['an unknown FEC class', 'rtp: { k: 8', 'rpt: { k: 8', /wanopt\.fec\.rpt: application class "rpt" is not defined/],
  ['k out of range', 'k: 8, m: 3', 'k: 0, m: 3', /wanopt\.fec\.rtp\.k: /],
  ['m out of range', 'k: 8, m: 3', 'k: 8, m: 65', /wanopt\.fec\.rtp\.m: /],
  ['two services on one port', 'classes: [files]', 'classes: [files]\n  ports: { session: 7770 }', /wanopt\.ports\.session: port 7770 is already used by ports\.intercept/],
  ['a class listed twice', 'classes: [files]', 'classes: [files, files]', /wanopt\.classes\[1\]: class "files" is listed twice/],
  ['an unknown key', 'classes: [files]', 'classes: [files]\n  dedup: true', /wanopt: .*dedup/],
];
for (const [what, from, to, re] of bad) {
  test(`${what} is an input error naming the file and key path`, () => {
    let thrown: unknown;
    const msg = errorOf(() => { try { compileText(edit(text, from, to), inventory, file); } catch (e) { thrown = e; throw e; } });
    assert.ok(thrown instanceof InputError, `InputError, got ${String(thrown)}`);
    assert.is((thrown as InputError).exitCode, 2);
    assert.ok(msg.startsWith(file), msg);
    assert.match(msg, re);
  });
}

test.run();

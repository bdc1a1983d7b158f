import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileText, fixture } from './fixtures.ts';

for (const name of ['two-site-dual-wan', 'hub-spoke']) {
  test(`${name}: every path names the id its peer gave the reverse direction`, () => {
    const f = fixture(name);
    const { bundles } = compileText(f.intentText, f.inventory, f.intentFile);
    let checked = 0;
    for (const [node, { bundle }] of bundles) {
      for (const p of bundle.paths) {
        const back = bundles.get(p.peerNode)!.bundle.paths.find((q) => q.id === p.peerPathId);
        assert.ok(back, `${node} path ${p.id} has a reverse path`);
        assert.equal([back!.peerNode, back!.localAddress, back!.remoteAddress, back!.peerPathId], [node, p.remoteAddress, p.localAddress, p.id]);
        checked++;
      }
    }
    assert.ok(checked >= 4);
  });
}

test.run();

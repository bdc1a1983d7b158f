// The intent's bgp section: cross-reference errors, and what the compiler puts into each edge's bundle.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseIntent } from '../../controller/index.ts';
import { compileText, edit, errorOf, fixture, hashes } from './fixtures.ts';

const f = fixture('two-site-dual-wan');
const withBgp = (bgp: string) => `${f.intentText}\nbgp:\n${bgp}`;
const good = `  policies:
    from-isp: { rules: [{ match: { prefixes: [{ prefix: 0.0.0.0/0, le: 24 }] } }], default: deny }
    unused: { rules: [], default: deny }
  sites:
    s1:
      asn: 65010
      advertiseLan: true
      networks: [192.0.2.0/24]
      neighbors: [{ address: 10.1.0.254, asn: 65001, import: from-isp }]
`;

test('a site with bgp gets the speaker configuration in its edge bundle; other edges stay unchanged', () => {
  const plain = compileText(f.intentText, f.inventory, f.intentFile);
  const r = compileText(withBgp(good), f.inventory, f.intentFile);
  const b = r.bundles.get('edge1')!.bundle.bgp;
  assert.is(b.asn, 65010);
  assert.is(b.routerId, '172.16.0.1', 'first WAN address');
  assert.equal(b.networks, [{ prefix: '192.0.2.0/24', segment: 'default' }, { prefix: '10.1.0.0/24', segment: 'default' }]);
  assert.equal(Object.keys(b.policies!), ['from-isp'], 'only the policies its neighbours name');
  assert.equal(b.neighbors![0]!.import, 'from-isp');
  assert.equal(r.bundles.get('edge2')!.bundle.bgp, {});
  assert.is(hashes(r).edge2, hashes(plain).edge2);
  assert.is.not(hashes(r).edge1, hashes(plain).edge1);
});

test('bgp references to unknown sites, segments and policies are errors with their key paths', () => {
  const msg = errorOf(() => parseIntent(withBgp(edit(edit(edit(good, 'import: from-isp', 'import: nope, segment: red'), '    s1:', '    s9:'), 'networks: [192.0.2.0/24]', 'networks: [{ prefix: 192.0.2.0/24, segment: blue }]')), 'i.yaml'));
  assert.match(msg, /bgp\.sites\.s9.*site "s9" is not defined/);
  assert.match(msg, /bgp\.sites\.s9\.neighbors\[0\]\.import.*policy "nope" is not defined in bgp\.policies/);
  assert.match(msg, /bgp\.sites\.s9\.neighbors\[0\]\.segment.*segment "red" is not defined/);
  assert.match(msg, /bgp\.sites\.s9\.networks\[0\].*segment "blue" is not defined/);
});

test('a malformed bgp section is rejected by the schema', () => {
  assert.match(errorOf(() => parseIntent(withBgp('  sites: { s1: { asn: 0 } }\n'), 'i.yaml')), /bgp\.sites\.s1\.asn/);
  assert.match(errorOf(() => parseIntent(withBgp('  sites: { s1: { asn: 65010, neighbors: [{ address: x, asn: 1 }] } }\n'), 'i.yaml')), /bgp\.sites\.s1\.neighbors\[0\]\.address/);
  assert.match(errorOf(() => parseIntent(withBgp('  speakers: {}\n'), 'i.yaml')), /bgp/);
});

test.run();

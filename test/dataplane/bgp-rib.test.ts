// BGP RIB: each decision step decides when the earlier ones tie, best-path change events, withdrawals
// and peer drops, the export rules (eBGP/iBGP, well-known communities, route reflection) and policy.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Rib, exportAttributes, selectBest, type BestChange, type PeerRef, type Route } from '../../dataplane/bgp/rib.ts';
import { CompiledPolicy, PolicySchema, type PolicyInput } from '../../dataplane/bgp/policy.ts';
import type { PathAttributes } from '../../dataplane/bgp/codec/index.ts';

const peer = (id: string, asn: number, extra: Partial<PeerRef> = {}): PeerRef => ({ id, asn, routerId: id, ibgp: asn === 65010, ...extra });
const A = peer('10.0.0.1', 65001), B = peer('10.0.0.2', 65002), B2 = peer('10.0.0.3', 65002), I1 = peer('10.0.0.4', 65010), I2 = peer('10.0.0.5', 65010);
const base = (path: number[], more: PathAttributes = {}): PathAttributes => ({ origin: 0, asPath: [{ type: 2, asns: path }], nextHop: '192.0.2.1', ...more });
const r = (p: PeerRef | undefined, attrs: PathAttributes): Route => ({ prefix: '10.1.0.0/16', attrs, peer: p });

const cases: { name: string; routes: Route[]; want: number; by: string }[] = [
  { name: 'a local route beats any learned one', routes: [r(A, base([65001], { localPref: 900 })), r(undefined, base([]))], want: 1, by: 'locally originated' },
  { name: 'higher LOCAL_PREF wins over a shorter path', routes: [r(A, base([65001])), r(B, base([65002, 65003], { localPref: 200 }))], want: 1, by: 'highest LOCAL_PREF' },
  { name: 'shorter AS_PATH wins', routes: [r(A, base([65001, 65009])), r(B, base([65002]))], want: 1, by: 'shortest AS_PATH' },
  { name: 'an AS_SET counts as one', routes: [r(A, { ...base([65001]), asPath: [{ type: 2, asns: [65001] }, { type: 1, asns: [1, 2, 3] }] }), r(B, base([65002, 65003, 65004]))], want: 0, by: 'shortest AS_PATH' },
  { name: 'lower ORIGIN wins', routes: [r(A, base([65001], { origin: 2 })), r(B, base([65002], { origin: 1 }))], want: 1, by: 'lowest ORIGIN' },
  { name: 'lower MED wins between routes from the same AS', routes: [r(B, base([65002], { med: 20 })), r(B2, base([65002], { med: 10 }))], want: 1, by: 'lowest MED from the same AS' },
  { name: 'MED is not compared across neighbouring ASes', routes: [r(B, base([65002], { med: 5 })), r(A, base([65001], { med: 50 }))], want: 1, by: 'lowest router id' },
  { name: 'eBGP beats iBGP', routes: [r(I1, base([65002])), r(B, base([65002]))], want: 1, by: 'eBGP over iBGP' },
  { name: 'lower router id wins', routes: [r(B2, base([65002])), r(A, base([65001]))], want: 1, by: 'lowest router id' },
  { name: 'ORIGINATOR_ID stands in for the router id of a reflected route', routes: [r(I1, base([65002], { originatorId: '10.9.9.9' })), r(I2, base([65002]))], want: 1, by: 'lowest router id' },
  { name: 'a shorter CLUSTER_LIST wins', routes: [r(I1, base([65002], { originatorId: '10.9.0.1', clusterList: ['1.1.1.1', '2.2.2.2'] })), r(I2, base([65002], { originatorId: '10.9.0.1', clusterList: ['1.1.1.1'] }))], want: 1, by: 'shortest CLUSTER_LIST' },
  { name: 'the lower peer address breaks the last tie', routes: [r(peer('10.0.0.9', 65002, { routerId: '1.1.1.1' }), base([65002])), r(peer('10.0.0.8', 65002, { routerId: '1.1.1.1' }), base([65002]))], want: 1, by: 'lowest peer address' },
];

for (const c of cases) {
  test(`decision: ${c.name}`, () => {
    const { best, decidedBy } = selectBest(c.routes);
    assert.is(best, c.routes[c.want]);
    assert.is(decidedBy, c.by);
    // The order of arrival must not matter.
    assert.is(selectBest([...c.routes].reverse()).best, c.routes[c.want]);
  });
}

test('the RIB reports best-path changes and falls back on withdrawal', () => {
  const changes: BestChange[] = [];
  const rib = new Rib('default', (c) => changes.push(c));
  rib.update(A, '10.1.0.0/16', base([65001, 65009]));
  rib.update(B, '10.1.0.0/16', base([65002]));
  rib.update(A, '10.1.0.0/16', base([65001, 65009, 65008])); // worse path from A: best unchanged, no event
  assert.equal(changes.map((c) => c.best?.peer?.id), ['10.0.0.1', '10.0.0.2']);
  rib.withdraw(B, '10.1.0.0/16');
  assert.is(changes.at(-1)!.best?.peer?.id, '10.0.0.1');
  rib.withdraw(A, '10.1.0.0/16');
  assert.is(changes.at(-1)!.best, undefined);
  assert.is(rib.size, 0);
  rib.withdraw(A, '10.1.0.0/16');
  assert.is(changes.length, 4, 'withdrawing an absent route changes nothing');
});

test('dropping a peer removes all its paths and re-selects', () => {
  const changes: BestChange[] = [];
  const rib = new Rib('blue', (c) => changes.push(c));
  for (let i = 0; i < 100; i++) { rib.update(A, `10.${i}.0.0/16`, base([65001])); if (i % 2) rib.update(B, `10.${i}.0.0/16`, base([65002, 65003])); }
  changes.length = 0;
  rib.dropPeer(A.id);
  assert.is(rib.size, 50);
  assert.is(changes.length, 100);
  assert.ok([...rib.bests()].every((x) => x.peer === B));
  assert.is(changes[0]!.segment, 'blue');
  assert.is(rib.received(A.id), 0);
  assert.is(rib.received(B.id), 50);
  assert.equal([...rib.adjRibIn(B.id).keys()].slice(0, 2), ['10.1.0.0/16', '10.3.0.0/16']);
});

const ctx = { localAsn: 65010, routerId: '10.0.0.100', nextHop4: '192.0.2.100', nextHop6: '2001:db8::100' };

test('export to eBGP prepends our AS, sets next hop self and drops LOCAL_PREF and foreign MED', () => {
  const out = exportAttributes(r(A, base([65001], { localPref: 300, med: 7, unknown: [{ flags: 0xc0, code: 99, data: new Uint8Array(1) }, { flags: 0x80, code: 98, data: new Uint8Array(1) }] })), B, ctx)!;
  assert.equal(out.asPath, [{ type: 2, asns: [65010, 65001] }]);
  assert.is(out.nextHop, '192.0.2.100');
  assert.is(out.localPref, undefined);
  assert.is(out.med, undefined);
  assert.equal(out.unknown?.map((u) => [u.code, u.flags]), [[99, 0xe0]], 'transitive kept with Partial, non-transitive dropped');
  assert.is(exportAttributes(r(A, base([65001])), A, ctx), undefined, 'never back to the source');
});

test('NO_EXPORT stays inside the AS and NO_ADVERTISE goes nowhere', () => {
  assert.is(exportAttributes(r(A, base([65001], { communities: [0xffffff01] })), B, ctx), undefined);
  assert.ok(exportAttributes(r(A, base([65001], { communities: [0xffffff01] })), I1, ctx));
  assert.is(exportAttributes(r(A, base([65001], { communities: [0xffffff02] })), I1, ctx), undefined);
});

test('iBGP routes reach other iBGP peers only through route reflection, with ORIGINATOR_ID and CLUSTER_LIST', () => {
  assert.is(exportAttributes(r(I1, base([65002])), I2, ctx), undefined, 'plain iBGP split horizon');
  const client = { ...I1, rrClient: true };
  const out = exportAttributes(r(client, base([65002])), I2, ctx)!;
  assert.is(out.originatorId, I1.routerId);
  assert.equal(out.clusterList, ['10.0.0.100']);
  assert.is(out.localPref, 100);
  assert.is(out.nextHop, '192.0.2.1', 'next hop unchanged on reflection');
  assert.ok(exportAttributes(r(I2, base([65002])), client, ctx), 'non-client to client');
  assert.is(exportAttributes(r(client, base([65002], { originatorId: I2.routerId })), I2, ctx), undefined, 'not back to the originator');
});

test('IPv6 routes get the IPv6 next hop on eBGP', () => {
  const out = exportAttributes({ prefix: '2001:db8:1::/48', attrs: base([65001]), peer: A }, B, ctx)!;
  assert.is(out.nextHop, '2001:db8::100');
});

const pol = (p: PolicyInput) => new CompiledPolicy(PolicySchema.parse(p));
const route = (prefix: string, attrs: PathAttributes) => ({ prefix, attrs });

test('policy prefix lists honour ge and le', () => {
  const p = pol({ rules: [{ match: { prefixes: [{ prefix: '10.0.0.0/8', ge: 16, le: 24 }] }, action: 'accept' }], default: 'deny' });
  const ok = (x: string) => p.apply(route(x, base([1]))) !== undefined;
  assert.equal(['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.128/25', '11.1.0.0/16', '2001:db8::/32'].map(ok), [false, true, true, false, false, false]);
  const exact = pol({ rules: [{ match: { prefixes: [{ prefix: '192.0.2.0/24' }] }, action: 'deny' }] });
  assert.is(exact.apply(route('192.0.2.0/24', base([1]))), undefined);
  assert.ok(exact.apply(route('192.0.2.0/25', base([1]))));
});

test('policy matches AS paths and communities and sets attributes without touching the input', () => {
  const p = pol({
    rules: [
      { match: { community: ['65000:666'] }, action: 'deny' },
      { match: { asPath: '^65001( |$)' }, set: { localPref: 250, med: 5, addCommunities: ['65010:1', '65010:7:8'], removeCommunities: ['65001:*'] } },
      { match: { originAsn: 65099, neighborAsn: 65002 }, set: { prepend: 2 } },
    ],
  });
  const attrs = base([65001, 65003], { communities: [65001 * 65536 + 5, 65002 * 65536 + 5] });
  const frozen = JSON.stringify(attrs);
  const out = p.apply(route('10.0.0.0/8', attrs), 65010)!;
  assert.is(JSON.stringify(attrs), frozen);
  assert.is(out.localPref, 250);
  assert.is(out.med, 5);
  assert.equal(out.communities, [65002 * 65536 + 5, 65010 * 65536 + 1]);
  assert.equal(out.largeCommunities, [[65010, 7, 8]]);
  assert.is(p.apply(route('10.0.0.0/8', base([65002], { communities: [65000 * 65536 + 666] }))), undefined);
  assert.equal(p.apply(route('10.0.0.0/8', base([65002, 65099])), 65010)!.asPath, [{ type: 2, asns: [65010, 65010, 65002, 65099] }]);
  const untouched = base([65003]);
  assert.is(p.apply(route('10.0.0.0/8', untouched)), untouched, 'no rule matched: the same attributes, accepted by default');
});

test('large-community wildcards match and strip', () => {
  const p = pol({ rules: [{ match: { community: ['65010:*:9'] }, set: { removeCommunities: ['*:*:*'] } }], default: 'deny' });
  assert.is(p.apply(route('10.0.0.0/8', base([1], { largeCommunities: [[65010, 3, 8]] }))), undefined);
  const out = p.apply(route('10.0.0.0/8', base([1], { largeCommunities: [[65010, 3, 9]] })))!;
  assert.is(out.largeCommunities, undefined);
});

test('invalid policies are rejected by the schema with the key path', () => {
  const bad = PolicySchema.safeParse({ rules: [{ match: { prefixes: [{ prefix: '10.0.0/8' }], asPath: '(' }, set: { addCommunities: ['70000:1'] } }] });
  assert.not.ok(bad.success);
  const paths = bad.error!.issues.map((i) => i.path.join('.')).sort();
  assert.equal(paths, ['rules.0.match.asPath', 'rules.0.match.prefixes.0.prefix', 'rules.0.set.addCommunities.0']);
});

test.run();

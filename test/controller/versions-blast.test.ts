// timeout: 240
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateKeyPairSync } from 'node:crypto';
import type { Inventory } from '../../dataplane/inventory.ts';
import { openStore } from '../../controller/store/index.ts';
import { addVersion, diffVersions } from '../../controller/versions/index.ts';

// 500 edges: a hub and 499 spokes from one template; the hub and the first PCI_SPOKES spokes also carry a
// `pci` segment (a tagged LAN). The card-payments rule lives in pci, so its SLA class reaches exactly the
// edges carrying pci: the hub plus PCI_SPOKES spokes.
const EDGES = 500;
const PCI_SPOKES = 411;
const oct = (i: number) => `${i >> 8}.${i & 255}`;
const site = (i: number) => (i === 0 ? 'hub' : `s${i}`);

function intent(transactionalLatency: string): string {
  const L = [
    'apiVersion: patronus.dev/v1',
    'name: scale-500',
    'transports:',
    '  mpls: { type: private, restrict: true }',
    '  inet: { type: public }',
    'segments:',
    '  pci: { id: 30 }',
    'templates:',
    '  spoke:',
    '    variables: [a, b]',
    '    lanPrefixes: ["10.${a}.${b}.0/24"]',
    '  pci-spoke:',
    '    variables: [a, b]',
    '    lanPrefixes: { default: ["10.${a}.${b}.0/24"], pci: ["172.20.${a}.${b}/32"] }',
    'sites:',
    `  hub: { role: hub, lanPrefixes: { default: [10.0.0.0/24], pci: [172.30.0.0/24] } }`,
  ];
  for (let i = 1; i < EDGES; i++) {
    L.push(`  ${site(i)}: { template: ${i <= PCI_SPOKES ? 'pci-spoke' : 'spoke'}, vars: { a: "${i >> 8}", b: "${i & 255}" } }`);
  }
  L.push(
    'topology: { policy: hub-spoke }',
    'slaClasses:',
    '  voice: { latency: 150ms, jitter: 30ms, loss: 1% }',
    `  transactional: { latency: ${transactionalLatency}, jitter: 100ms, loss: 0.5% }`,
    'appClasses:',
    '  voip: { match: [{ protocol: udp, ports: "16384-32767" }] }',
    '  payments: { match: [{ protocol: tcp, ports: 8443 }] }',
    'rules:',
    '  - { name: voice, app: voip, sla: voice, paths: { preferred: [mpls, inet] } }',
    '  - { name: card-payments, app: payments, segment: pci, sla: transactional, paths: { preferred: [mpls, inet] } }',
    '  - { name: corporate, app: default, paths: { preferred: [mpls, inet] } }',
  );
  return L.join('\n') + '\n';
}

function inventory(): Inventory {
  const edges: Inventory['edges'] = [];
  for (let i = 0; i < EDGES; i++) {
    const pci = i === 0 ? ['172.30.0.1/24'] : i <= PCI_SPOKES ? [`172.20.${oct(i)}/32`] : null;
    edges.push({
      node: i === 0 ? 'hub' : `e${i}`,
      site: site(i),
      interfaces: [
        { name: 'wan0', role: 'wan', transport: 'mpls', ipv4: [`172.16.${oct(i + 1)}/16`], ipv6: [], mtu: 1500 },
        { name: 'wan1', role: 'wan', transport: 'inet', ipv4: [`100.64.${oct(i + 1)}/16`], ipv6: [], mtu: 1500 },
        { name: 'lan0', role: 'lan', ipv4: [i === 0 ? '10.0.0.1/24' : `10.${oct(i)}.1/24`], ipv6: [], mtu: 1500 },
        ...(pci ? [{ name: 'lan1', role: 'lan' as const, ipv4: pci, ipv6: [], mtu: 1500, vlan: 30 }] : []),
      ],
    });
  }
  return { source: 'generated:scale-500', edges };
}

test('changing the SLA class of the pci rule changes the bundles of the 412 of 500 edges carrying pci', async () => {
  const store = await openStore(':memory:');
  const { privateKey } = generateKeyPairSync('ed25519');
  const inv = inventory();
  const opts = { author: 'test', inventory: inv, signingKey: privateKey };
  const a = await addVersion(store, { yaml: intent('300ms'), file: 'scale-500.yaml' }, { ...opts, message: 'base' });
  const b = await addVersion(store, { yaml: intent('250ms'), file: 'scale-500.yaml' }, { ...opts, message: 'tighter payments' });
  assert.is(a.bundles.size, EDGES);
  assert.is((await store.listBundles(b.version.id)).length, EDGES);

  const d = await diffVersions(store, a.version.id, b.version.id);
  assert.is(d.blast.summary, 'changes the bundles of 412 of 500 edges');
  const pciEdges = ['hub', ...Array.from({ length: PCI_SPOKES }, (_, i) => `e${i + 1}`)].sort();
  assert.equal(d.blast.changed, pciEdges);
  assert.equal([d.blast.added, d.blast.removed, d.blast.unchanged], [[], [], EDGES - 412]);
  assert.equal(d.changes, [{ area: 'slaClasses', path: 'slaClasses.transactional.latency', kind: 'changed', old: 300, new: 250 }]);
  await store.close();
});

test.run();

/** A hand-written bundle for edge1 of two-site-dual-wan, independent of the compiler. */
import { BUNDLE_API_VERSION, type Bundle } from '../../dataplane/index.ts';

export function edge1Bundle(): Bundle {
  const path = (id: number, transport: string, localInterface: string, localAddress: string, remoteAddress: string, gateway?: string) => ({
    id, peerNode: 'edge2', peerSite: 's2', peerSiteId: 2, transport, remoteTransport: transport, localInterface, localAddress, remoteAddress,
    ...(gateway && { gateway }), mtu: 1500, role: 'active' as const, probe: true,
  });
  return {
    apiVersion: BUNDLE_API_VERSION, node: 'edge1', site: 's1', siteId: 1, intent: 'fixture',
    interfaces: {
      wan: [
        { name: 'wan0', transport: 'mpls', ipv4: ['172.16.0.1/24'], mtu: 1500, role: 'active', metered: false, bandwidthUp: 0, bandwidthDown: 0 },
        { name: 'wan1', transport: 'inet', ipv4: ['100.64.0.2/30'], gateway: '100.64.0.1', mtu: 1500, role: 'active', metered: false, bandwidthUp: 0, bandwidthDown: 0 },
      ],
      lan: [{ name: 'lan0', segment: 'default', ipv4: ['10.1.0.1/24'] }],
    },
    segments: [{ name: 'default', id: 1, routes: [
      { prefix: '10.1.0.0/24', kind: 'local', interface: 'lan0' },
      { prefix: '10.2.0.0/24', kind: 'remote', site: 's2', siteId: 2, via: 's2' },
      { prefix: '10.66.0.0/16', kind: 'drop' },
    ] }],
    paths: [path(1, 'inet', 'wan1', '100.64.0.2', '100.64.0.6', '100.64.0.1'), path(2, 'mpls', 'wan0', '172.16.0.1', '172.16.0.2')],
    classifier: [], rules: [{ name: 'default', segment: 'default', appClass: 'default', service: 'overlay', strategy: 'preference', preferred: ['inet', 'mpls'], perPacket: false }],
    slaClasses: [], qosClasses: [], bgp: {}, wanopt: {},
  };
}

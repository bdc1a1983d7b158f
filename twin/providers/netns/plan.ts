/**
 * The deploy plan of a lab on the netns provider, as pure data (so it is testable without root):
 * phase 1 creates every veth pair from the namespace of its first endpoint with the peer placed directly in
 * the other namespace (one `ip -batch` per namespace); phase 2 sets addresses, bridges and link state per
 * namespace; phase 3 installs static routes once every address exists. Sysctls are per node.
 * An impairable link instead gets a hidden link namespace (`pt.<lab>._l<position>`, a plan of its own)
 * with one veth into it from each endpoint (`e0`, `e1`); the provider then starts its delay line.
 */
import type { Lab, LabNode } from '../../lab/normalise.ts';
import { linkIf, linkNsName, nsName, WAN_BRIDGE } from './names.ts';
import { natRules } from './nat.ts';

export interface NodePlan {
  node: string;
  ns: string;
  links: string[];
  setup: string[];
  routes: string[];
  sysctls: Record<string, string>;
  /** nftables script applied after routes (wan NAT, see nat.ts). */
  nft?: string;
}

function forwarding(node: LabNode): boolean {
  return node.kind === 'edge' || node.kind === 'router' || (node.kind === 'wan' && node.wan?.mode === 'routed');
}

export function planLab(lab: Lab): NodePlan[] {
  const plans = new Map<string, NodePlan>();
  for (const n of Object.values(lab.nodes)) {
    const sysctls: Record<string, string> = {
      // Addresses usable at once: no duplicate-address detection delay in an emulated network.
      'net.ipv6.conf.all.accept_dad': '0',
      'net.ipv6.conf.default.accept_dad': '0',
    };
    if (forwarding(n)) {
      Object.assign(sysctls, {
        'net.ipv4.ip_forward': '1',
        'net.ipv6.conf.all.forwarding': '1',
        // Asymmetric paths are normal on a WAN (failover, steering): do not drop them as spoofed.
        'net.ipv4.conf.all.rp_filter': '0',
        'net.ipv4.conf.default.rp_filter': '0',
      });
    }
    Object.assign(sysctls, n.sysctls);
    const setup = ['link set lo up'];
    if (n.kind === 'wan' && n.wan?.mode === 'bridge') setup.push(`link add ${WAN_BRIDGE} type bridge forward_delay 0`, `link set ${WAN_BRIDGE} up`);
    const nft = natRules(n);
    plans.set(n.name, { node: n.name, ns: nsName(lab.name, n.name), links: [], setup, routes: [], sysctls, ...(nft && { nft }) });
  }
  lab.links.forEach((link, position) => {
    const [a, b] = link.endpoints;
    const mac = (e: { mac?: string }) => (e.mac ? ` address ${e.mac}` : '');
    if (link.impairable) {
      const ns = linkNsName(lab.name, position);
      link.endpoints.forEach((e, side) => plans.get(e.node)!.links.push(
        `link add name ${e.interface}${mac(e)} mtu ${link.mtu} type veth peer name ${linkIf(side as 0 | 1)} mtu ${link.mtu} netns ${ns}`,
      ));
      // Nothing in the link namespace may answer or originate packets: no addresses, no IPv6.
      plans.set(`_l${position}`, {
        node: `_l${position}`, ns, links: [], setup: ['link set lo up', `link set ${linkIf(0)} up`, `link set ${linkIf(1)} up`], routes: [],
        sysctls: { 'net.ipv6.conf.all.disable_ipv6': '1', 'net.ipv6.conf.default.disable_ipv6': '1' },
      });
    } else {
      plans.get(a.node)!.links.push(
        `link add name ${a.interface}${mac(a)} mtu ${link.mtu} type veth peer name ${b.interface}${mac(b)} mtu ${link.mtu} netns ${nsName(lab.name, b.node)}`,
      );
    }
    for (const e of link.endpoints) {
      const p = plans.get(e.node)!;
      const node = lab.nodes[e.node]!;
      if (node.kind === 'wan' && node.wan?.mode === 'bridge') p.setup.push(`link set dev ${e.interface} master ${WAN_BRIDGE}`);
      if (e.ipv4) p.setup.push(`address add ${e.ipv4} dev ${e.interface}`);
      if (e.ipv6) p.setup.push(`address add ${e.ipv6} dev ${e.interface} nodad`);
      p.setup.push(`link set dev ${e.interface} up`);
    }
  });
  for (const n of Object.values(lab.nodes)) {
    const p = plans.get(n.name)!;
    if (n.gateway) p.routes.push(`route replace default via ${n.gateway}`);
    for (const r of n.routes) p.routes.push(`route replace ${r.dst} via ${r.via}`);
  }
  // An edge's routed underlay hands it a default gateway, as an ISP's DHCP would: a low-preference default
  // route per such interface, so the edge can answer probes and reach peers before (and besides) what its
  // bundle installs. The agent's own routes use metric 0 and win.
  for (const n of Object.values(lab.nodes)) {
    if (n.kind !== 'edge') continue;
    let k = 0;
    for (const l of lab.links) {
      for (const e of l.endpoints) {
        if (e.node === n.name && e.gateway) plans.get(n.name)!.routes.push(`route replace default via ${e.gateway} dev ${e.interface} metric ${1000 + k++}`);
      }
    }
  }
  return [...plans.values()];
}

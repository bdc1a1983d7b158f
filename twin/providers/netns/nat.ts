/**
 * Source NAT on `wan` nodes, as an nftables script for the node's namespace (pure, so it is testable
 * without root). Inside = every attached link that is not in `wan.outside`; outside = those listed.
 *
 *   port-preserving  `masquerade`: the outside address, source port kept while it is free (what most
 *                    CPE routers and endpoint-independent NATs do)
 *   symmetric        `masquerade random`: every mapping gets a port picked from a keyed hash of source and
 *                    destination, so each destination sees another port (hole punching fails, relays needed)
 *   cgn              the inner layer of two: this node masquerades like port-preserving into the shared
 *                    space; the generated "<node>-cgn" node (normalise.ts) is the outer, port-preserving layer
 *
 * Like a real NAT it also refuses new connections from outside to inside (`ct state new` dropped in forward),
 * while replies and related ICMP pass through conntrack. A new UDP datagram from outside to the node's own
 * address is dropped too, in the input hook, as a CPE router's input filter does: left to the stack it would
 * leave a confirmed conntrack entry (and an ICMP error) whose tuple then blocks the masquerade from keeping
 * the inside client's port — and with it UDP hole punching between two NATed peers.
 */
import type { LabNode } from '../../lab/normalise.ts';

/** Name of the nftables table holding the NAT of a wan node (ip family). */
export const NAT_TABLE = 'patronus_nat';

/**
 * The `nft -f` script for a node, or undefined when the node does not NAT.
 * Example: a node with `wan: { nat: symmetric, outside: [up0] }` gives a postrouting chain with
 * `iifname != { "up0" } oifname { "up0" } masquerade random`.
 */
export function natRules(node: LabNode): string | undefined {
  const w = node.wan;
  if (!w || w.nat === 'none' || !w.outside?.length) return undefined;
  const out = `{ ${w.outside.map((i) => `"${i}"`).join(', ')} }`;
  const how = w.nat === 'symmetric' ? 'masquerade random' : 'masquerade';
  return [
    `table ip ${NAT_TABLE} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    // Only what enters from inside: transit between two outside links stays untranslated.
    `    iifname != ${out} oifname ${out} ${how}`,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    `    iifname ${out} oifname != ${out} ct state new drop`,
    '  }',
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    `    iifname ${out} meta l4proto udp ct state new drop`,
    '  }',
    '}',
    '',
  ].join('\n');
}

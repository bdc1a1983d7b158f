/**
 * Transparent interception of the TCP flows that WAN-opt rules select, so hosts need no configuration:
 * nftables TPROXY on the edge diverts matching connections (destination prefixes and ports) to the local
 * WAN-opt proxy without rewriting them, a policy route (`fwmark → table: local 0.0.0.0/0 dev lo`) delivers
 * the diverted packets locally, and the proxy listens on an IP_TRANSPARENT socket (native addon), so each
 * accepted socket's local address is the connection's original destination. IPv4 only for now.
 *
 * Example: `installInterception({ port: 7777, rules: [{ daddr: ['10.2.0.0/16'], dport: [80, 443] }] })`, then
 * `const srv = await listenTransparent({ port: 7777 }, (sock, dst) => ...)`, and `removeInterception(...)`.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer, isIPv4, type Server, type Socket } from 'node:net';
import { WanoptError } from './errors.ts';
import { wanoptAddon } from './native.ts';

/** One selection of flows to intercept; an omitted field matches everything. */
export interface InterceptRule {
  /** Destination IPv4 prefixes, e.g. `['10.2.0.0/16', '192.0.2.7']`. */
  daddr?: string[];
  /** Destination TCP ports, 1..65535. */
  dport?: number[];
  /**
   * Packet marks, any of which matches: the LAN program marks the packets of WAN-opt classes
   * `PT_LOCAL_MARK | class id` (docs/wanopt.md), so the classifier is not repeated in nftables.
   */
  marks?: number[];
}

/** Where and how to intercept. */
export interface InterceptOptions {
  /** The proxy's listening port (on `listenHost`). */
  port: number;
  /** Default '127.0.0.1'. */
  listenHost?: string;
  /** Flows to intercept (at least one rule). */
  rules: InterceptRule[];
  /** Packet mark for the policy route, default 0x7770. */
  mark?: number;
  /** Routing table of the policy route, default 177. */
  routeTable?: number;
  /** nftables table (family inet), default 'pt_wanopt'. */
  table?: string;
  /** Network namespace (name under /run/netns) to act in; default the current one. */
  netns?: string;
}

/** The original destination of an intercepted connection. */
export interface OriginalDestination { address: string; port: number }

function checkOptions(o: InterceptOptions): Required<Omit<InterceptOptions, 'netns'>> & { netns?: string } {
  const bad = (key: string, what: string) => new WanoptError(`wanopt interception: ${key}: ${what}`);
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535) throw bad('port', `expected 1..65535, got ${o.port}`);
  const listenHost = o.listenHost ?? '127.0.0.1';
  if (!isIPv4(listenHost)) throw bad('listenHost', `expected an IPv4 address, got ${JSON.stringify(listenHost)}`);
  if (!o.rules.length) throw bad('rules', 'expected at least one rule');
  o.rules.forEach((r, i) => {
    for (const [j, p] of (r.daddr ?? []).entries()) {
      const [addr, len, ...rest] = p.split('/');
      if (rest.length || !isIPv4(addr!) || (len !== undefined && !(/^\d+$/.test(len) && Number(len) <= 32))) throw bad(`rules[${i}].daddr[${j}]`, `expected an IPv4 address or prefix, got ${JSON.stringify(p)}`);
    }
    for (const [j, p] of (r.dport ?? []).entries()) if (!Number.isInteger(p) || p < 1 || p > 65535) throw bad(`rules[${i}].dport[${j}]`, `expected 1..65535, got ${p}`);
    if (r.daddr && !r.daddr.length) throw bad(`rules[${i}].daddr`, 'expected at least one prefix (omit the key to match all)');
    if (r.dport && !r.dport.length) throw bad(`rules[${i}].dport`, 'expected at least one port (omit the key to match all)');
    for (const [j, m] of (r.marks ?? []).entries()) if (!Number.isInteger(m) || m < 1 || m > 0xffffffff) throw bad(`rules[${i}].marks[${j}]`, `expected 1..2^32-1, got ${m}`);
    if (r.marks && !r.marks.length) throw bad(`rules[${i}].marks`, 'expected at least one mark (omit the key to match all)');
  });
  const mark = o.mark ?? 0x7770, routeTable = o.routeTable ?? 177, table = o.table ?? 'pt_wanopt';
  if (!Number.isInteger(mark) || mark < 1 || mark > 0xffffffff) throw bad('mark', `expected 1..2^32-1, got ${mark}`);
  if (!Number.isInteger(routeTable) || routeTable < 1 || routeTable > 0xfffffffe || routeTable === 253 || routeTable === 254 || routeTable === 255) throw bad('routeTable', `expected a free table id (not 253-255), got ${routeTable}`);
  if (!/^pt[\w-]{0,60}$/.test(table)) throw bad('table', `expected a name starting with "pt", got ${JSON.stringify(table)}`);
  if (o.netns !== undefined && !/^[\w.-]+$/.test(o.netns)) throw bad('netns', `expected a plain name, got ${JSON.stringify(o.netns)}`);
  return { port: o.port, listenHost, rules: o.rules, mark, routeTable, table, netns: o.netns };
}

/** The nftables script {@link installInterception} loads (pure; for review and tests). */
export function interceptionScript(opts: InterceptOptions): string {
  const o = checkOptions(opts);
  const set = (xs: (string | number)[]) => (xs.length === 1 ? String(xs[0]) : `{ ${xs.join(', ')} }`);
  const lines = o.rules.map((r) => {
    const m = ['meta l4proto tcp', r.daddr ? `ip daddr ${set(r.daddr)}` : 'meta nfproto ipv4'];
    if (r.dport) m.push(`tcp dport ${set(r.dport)}`);
    if (r.marks) m.push(`meta mark ${set(r.marks.map((x) => `0x${x.toString(16)}`))}`);
    return `    ${m.join(' ')} tproxy ip to ${o.listenHost}:${o.port} meta mark set 0x${o.mark.toString(16)} accept`;
  });
  return [
    `table inet ${o.table} {`,
    '  chain prerouting {',
    '    type filter hook prerouting priority mangle; policy accept;',
    ...lines,
    '  }',
    '}',
    '',
  ].join('\n');
}

function run(netns: string | undefined, argv: string[], input?: string): void {
  const full = netns ? ['ip', 'netns', 'exec', netns, ...argv] : argv;
  try {
    execFileSync(full[0]!, full.slice(1), { input, stdio: ['pipe', 'pipe', 'pipe'] });
  } catch (e) {
    const stderr = String((e as { stderr?: Buffer }).stderr ?? '').trim();
    throw new WanoptError(`wanopt interception: \`${full.join(' ')}\` failed: ${stderr || (e as Error).message}`, { cause: e });
  }
}

/**
 * Load the nftables table and the policy route. Replaces an earlier installation with the same table, mark
 * and route table; on failure removes what it added and throws a {@link WanoptError}. Needs root.
 */
export function installInterception(opts: InterceptOptions): void {
  const o = checkOptions(opts);
  const script = interceptionScript(o);
  removeInterception(o);
  try {
    run(o.netns, ['nft', '-f', '-'], script);
    run(o.netns, ['ip', 'rule', 'add', 'fwmark', `0x${o.mark.toString(16)}`, 'lookup', String(o.routeTable)]);
    run(o.netns, ['ip', 'route', 'replace', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', String(o.routeTable)]);
  } catch (e) {
    removeInterception(o);
    throw e;
  }
}

/** Remove what {@link installInterception} added (missing pieces are not an error). */
export function removeInterception(opts: InterceptOptions): void {
  const o = checkOptions(opts);
  const quiet = (argv: string[]) => { try { run(o.netns, argv); } catch { /* already gone */ } };
  quiet(['nft', 'delete', 'table', 'inet', o.table]);
  // `ip rule del` removes one matching rule per call; more than one would be someone else's duplicate.
  quiet(['ip', 'rule', 'del', 'fwmark', `0x${o.mark.toString(16)}`, 'lookup', String(o.routeTable)]);
  quiet(['ip', 'route', 'del', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', String(o.routeTable)]);
}

/** The original destination of a socket accepted by {@link listenTransparent}. */
export function originalDestination(sock: Socket): OriginalDestination {
  return { address: sock.localAddress ?? '', port: sock.localPort ?? 0 };
}

/**
 * Listen on an IP_TRANSPARENT socket (created in `netns` when given) and call `onConnection` with each
 * intercepted connection and its original destination. Resolves once listening. Needs the native addon.
 */
export async function listenTransparent(opts: { port: number; host?: string; netns?: string; backlog?: number }, onConnection: (sock: Socket, dst: OriginalDestination) => void): Promise<Server> {
  const addon = wanoptAddon();
  if (!addon) throw new WanoptError('wanopt interception: the native addon is not built (run `node scripts/build.mjs`)');
  const fd = addon.transparentListen(opts.host ?? '127.0.0.1', opts.port, opts.backlog ?? 511, opts.netns);
  // Half-open: the proxy relays a client's FIN as a half-close, the other direction keeps flowing.
  const srv = createServer({ allowHalfOpen: true }, (sock) => onConnection(sock, originalDestination(sock)));
  srv.listen({ fd });
  await once(srv, 'listening');
  return srv;
}

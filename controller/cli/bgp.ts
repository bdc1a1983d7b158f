/**
 * `patronus bgp neighbors|routes LAB NODE [--json]`: the BGP speaker of an edge agent in a twin lab, read
 * over the agent's control socket (GET /status for neighbours, GET /bgp/routes for the best paths and what
 * the route merge did with them).
 */
import { parseArgs } from 'node:util';
import { agentRequest } from '../../dataplane/agent/index.ts';
import { getProvider, providerNames, type TwinProvider } from '../../twin/index.ts';
import { table } from './format.ts';

const USAGE = 'usage: patronus bgp neighbors|routes LAB NODE [--json] [--provider NAME]\n';

async function providerOf(lab: string, name?: string): Promise<TwinProvider> {
  if (name) return getProvider(name);
  for (const n of providerNames()) {
    const p = getProvider(n);
    try { if ((await p.list()).includes(lab)) return p; } catch { /* provider not usable here */ }
  }
  return getProvider('netns');
}

export async function runBgp(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, provider: { type: 'string' } } });
  } catch (e) {
    process.stderr.write(`patronus bgp: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  const [sub, lab, node] = parsed.positionals;
  if ((sub !== 'neighbors' && sub !== 'routes') || !lab || !node || parsed.positionals.length !== 3) {
    process.stderr.write(`${sub && sub !== 'neighbors' && sub !== 'routes' ? `patronus bgp: unknown command "${sub}" (known: neighbors, routes)\n` : ''}${USAGE}`);
    return 2;
  }
  const socket = (await providerOf(lab, parsed.values.provider)).agentSocket(lab, node);
  const res = await agentRequest(socket, 'GET', sub === 'neighbors' ? '/status' : '/bgp/routes');
  if (res.status !== 200) throw new Error(`agent of ${node}: ${res.body?.error ?? `HTTP ${res.status}`}`);
  if (sub === 'neighbors') {
    const bgp = res.body.bgp as null | { asn: number; routerId: string; routes: number; installed: number; neighbors: { address: string; asn: number; segment: string; state: string; received: number; accepted: number; reason: string }[] };
    if (parsed.values.json) { process.stdout.write(JSON.stringify(bgp) + '\n'); return 0; }
    if (!bgp) { process.stdout.write(`${node}: no BGP in its bundle\n`); return 0; }
    process.stdout.write(`${node}: AS ${bgp.asn}, router id ${bgp.routerId}, ${bgp.routes} learned routes, ${bgp.installed} installed\n`);
    process.stdout.write(table([['NEIGHBOR', 'AS', 'SEGMENT', 'STATE', 'RECEIVED', 'ACCEPTED', 'LAST REASON'],
      ...bgp.neighbors.map((n) => [n.address, String(n.asn), n.segment, n.state, String(n.received), String(n.accepted), n.reason])]));
    return 0;
  }
  const body = res.body as { routes: { segment: string; prefix: string; nextHop?: string; peer?: string; ibgp: boolean }[]; installed: { segment: string; prefix: string; dev: string; kind: string }[]; skipped: { segment: string; prefix: string; reason: string }[] };
  if (parsed.values.json) { process.stdout.write(JSON.stringify(body) + '\n'); return 0; }
  const key = (r: { segment: string; prefix: string }) => `${r.segment}|${r.prefix}`;
  const inst = new Map(body.installed.map((r) => [key(r), r]));
  const skip = new Map(body.skipped.map((r) => [key(r), r]));
  const rows = [...body.routes].sort((a, b) => (key(a) < key(b) ? -1 : 1)).map((r) => {
    const i = inst.get(key(r));
    const fib = r.peer === undefined ? 'originated' : i ? `installed (${i.kind} via ${i.dev})` : `skipped: ${skip.get(key(r))?.reason ?? '?'}`;
    return [r.segment, r.prefix, r.nextHop ?? '-', r.peer === undefined ? 'local' : `${r.ibgp ? 'iBGP' : 'eBGP'} ${r.peer}`, fib];
  });
  process.stdout.write(table([['SEGMENT', 'PREFIX', 'NEXT HOP', 'FROM', 'FIB'], ...rows]));
  return 0;
}

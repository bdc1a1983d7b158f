/**
 * `patronus demo`: the main job on a fresh machine. Brings up labs/two-site-dual-wan on the netns twin with
 * its intent, waits for the edges' path probes, prints the status table, pings host2 from host1 across
 * the sites over the overlay, then cuts the MPLS underlay inside its cloud (the edge keeps carrier, as with
 * a real provider outage), shows how fast the probes see it, where steering moves each class and that
 * traffic keeps flowing over the internet path, restores it, and tears everything down (also on failure
 * or Ctrl-C). Then the scenario step: runs scenarios/brownout-voice.yaml (its own copy of the lab, whose
 * access links run through delay lines) with live progress, prints the report summary and the paths of
 * the run's DuckDB file and charts.
 */
import { runScenario } from '../../scenarios/index.ts';
import { agentRequest } from '../../dataplane/index.ts';
import { labFile } from '../../labs/index.ts';
import { getProvider, type TwinProvider } from '../../twin/index.ts';
import { statusTable, table } from './format.ts';
import { bringUp, prepareLab } from './twin.ts';

interface EdgeView {
  paths: { id: number; transport: string; state: string; rttMs: number | null }[];
  steering: { appClass: string; site: string; mode: string; pathIds: number[] }[];
  events: { recent: { type: string; at: number; path?: number; to?: string; cause?: string; appClass?: string; from?: number[] }[] };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function edgeView(p: TwinProvider, lab: string, node: string): Promise<EdgeView> {
  return (await agentRequest(p.agentSocket(lab, node), 'GET', '/status')).body as EdgeView;
}

async function waitEdges(p: TwinProvider, lab: string, nodes: string[], cond: (v: EdgeView) => boolean, ms: number): Promise<number | undefined> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    const views = await Promise.all(nodes.map((n) => edgeView(p, lab, n)));
    if (views.every(cond)) return Date.now() - t0;
    await sleep(50);
  }
  return undefined;
}

function steeringRows(v: EdgeView): string[][] {
  const name = (id: number) => v.paths.find((x) => x.id === id)?.transport ?? `path ${id}`;
  return v.steering.map((r) => [r.appClass, r.site, r.mode, r.pathIds.map((id) => `${name(id)} (path ${id})`).join(', ') || 'none']);
}

export async function runDemo(argv: string[]): Promise<number> {
  const name = argv[0] ?? 'demo';
  const say = (s: string) => process.stdout.write(`\n== ${s}\n`);
  const p = getProvider('netns');
  if ((await p.list()).includes(name)) {
    if (!(await p.stale()).includes(name)) {
      process.stderr.write(`a lab named "${name}" is running; remove it with "patronus twin down ${name}" or pass another name\n`);
      return 1;
    }
    await p.destroy(name);
  }
  say(`validating and compiling labs/two-site-dual-wan (as lab "${name}")`);
  const prepared = prepareLab(labFile('two-site-dual-wan'), { name });
  process.stdout.write(`${Object.keys(prepared.lab.nodes).length} nodes, ${prepared.lab.links.length} links, ${prepared.bundles.size} bundles\n`);
  const edges = [...prepared.bundles.keys()];
  let interrupted = false;
  const onSig = () => { interrupted = true; };
  process.once('SIGINT', onSig);
  try {
    say('bringing up the twin');
    await bringUp(p, prepared, { out: process.stdout });
    const upMs = await waitEdges(p, name, edges, (v) => v.paths.length > 0 && v.paths.every((x) => x.state === 'up'), 10_000);
    process.stdout.write(upMs === undefined ? 'paths: not all up after 10 s\n' : `paths: all up ${upMs} ms after the bundles were applied\n`);
    say('status');
    process.stdout.write(statusTable(await p.inspect(name)));
    say('host1 → host2 across the sites');
    const ping = await p.exec(name, 'host1', ['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.2.0.10']);
    process.stdout.write(ping.stdout + ping.stderr);
    const route = await p.exec(name, 'edge1', ['ip', 'route', 'get', '10.2.0.10', 'from', '10.1.0.10', 'iif', 'lan0']);
    process.stdout.write(`edge1 forwards it: ${route.stdout.split('\n')[0]}\n`);
    say('edge1 steering');
    process.stdout.write(table([['CLASS', 'TO SITE', 'MODE', 'PATHS'], ...steeringRows(await edgeView(p, name, 'edge1'))]));
    if (interrupted) return 130;

    say('what if: the MPLS provider fails behind edge2 (cut inside the mpls cloud, carrier stays up)');
    await p.setLinkState(name, 'mpls:p2', 'down');
    const detect = await waitEdges(p, name, ['edge1'], (v) => v.paths.find((x) => x.transport === 'mpls')?.state === 'down', 10_000);
    process.stdout.write(detect === undefined ? 'edge1 did not declare the MPLS path down within 10 s\n' : `edge1 declared its MPLS path down ${detect} ms after the cut\n`);
    const after = await edgeView(p, name, 'edge1');
    for (const e of after.events.recent.filter((x) => x.type === 'steer' && x.from?.length)) {
      process.stdout.write(`  steering event: ${e.appClass} left path ${e.from!.join(',')} (${e.cause})\n`);
    }
    process.stdout.write(table([['CLASS', 'TO SITE', 'MODE', 'PATHS'], ...steeringRows(after)]));
    const during = await p.exec(name, 'host1', ['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.2.0.10']);
    process.stdout.write(`host1 → host2 during the outage (encapsulated across the internet, which routes only the edges' /30s):\n`);
    process.stdout.write(during.stdout.split('\n').filter((l) => /transmitted|rtt/.test(l)).map((l) => `  ${l}\n`).join(''));
    await p.setLinkState(name, 'mpls:p2', 'up');
    const back = await waitEdges(p, name, ['edge1'], (v) => v.paths.every((x) => x.state === 'up'), 30_000);
    process.stdout.write(back === undefined ? 'MPLS path not back within 30 s\n' : `restored: MPLS path up again ${back} ms later (5 s liveness hold-down, then the loss seen during the cut must age out of the SLA window)\n`);
    if (interrupted) return 130;
    if (!(ping.code === 0 && detect !== undefined && during.code === 0)) return 1;
  } finally {
    say('tearing down');
    const r = await p.destroy(name);
    process.stdout.write(`removed ${r.namespaces.length} namespaces and ${r.processes} processes\n`);
    process.off('SIGINT', onSig);
  }
  return demoScenario();
}

/** The scenario step of the demo: brownout-voice with progress; exits with the run's code (0 pass, 1 fail, 3 invalid). */
async function demoScenario(): Promise<number> {
  process.stdout.write('\n== scenario: brownout-voice — the MPLS delivery to site 1 browns out under voice and video\n');
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig);
  let live = false;
  const tty = process.stdout.isTTY;
  try {
    const r = await runScenario('scenarios/brownout-voice.yaml', {
      signal: ac.signal,
      log: (l) => { if (live) { process.stdout.write('\r\x1b[K'); live = false; } process.stdout.write(`${l}\n`); },
      status: tty ? (l) => { process.stdout.write(`\r\x1b[K${l.slice(0, (process.stdout.columns ?? 100) - 1)}`); live = true; } : undefined,
    });
    if (live) process.stdout.write('\r\x1b[K');
    process.stdout.write(`\n${r.summary}`);
    process.stdout.write(`full report: ${r.report}\ntelemetry (DuckDB): ${r.file}\n`);
    if (r.charts) process.stdout.write(`charts: ${r.charts.files.join(' ')}\n`);
    process.stdout.write(`query it: patronus scenario query "select flow, sum(lost) from flows group by 1" ${r.file}\n`);
    return r.exitCode;
  } finally {
    process.off('SIGINT', onSig);
  }
}

/**
 * `patronus demo`: the main job on a fresh machine. Brings up labs/two-site-dual-wan on the netns twin with
 * its intent, prints the status table, pings host2 from host1 across the sites, shows which underlay
 * carries it, and tears everything down (also on failure or Ctrl-C).
 */
import { labFile } from '../../labs/index.ts';
import { getProvider } from '../../twin/index.ts';
import { statusTable } from './format.ts';
import { bringUp, prepareLab } from './twin.ts';

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
  let interrupted = false;
  const onSig = () => { interrupted = true; };
  process.once('SIGINT', onSig);
  try {
    say('bringing up the twin');
    await bringUp(p, prepared, { out: process.stdout });
    say('status');
    process.stdout.write(statusTable(await p.inspect(name)));
    say('host1 → host2 across the sites');
    const ping = await p.exec(name, 'host1', ['ping', '-c', '3', '-i', '0.2', '-W', '2', '10.2.0.10']);
    process.stdout.write(ping.stdout + ping.stderr);
    const route = await p.exec(name, 'edge1', ['ip', 'route', 'get', '10.2.0.10', 'from', '10.1.0.10', 'iif', 'lan0']);
    process.stdout.write(`edge1 forwards it: ${route.stdout.split('\n')[0]}\n`);
    if (interrupted) return 130;
    return ping.code === 0 ? 0 : 1;
  } finally {
    say('tearing down');
    const r = await p.destroy(name);
    process.stdout.write(`removed ${r.namespaces.length} namespaces and ${r.processes} processes\n`);
    process.off('SIGINT', onSig);
  }
}

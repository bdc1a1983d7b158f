/**
 * Runs a speaker as a process: `node --import tsx dataplane/bgp/run.ts CONFIG.json`. Events go to stdout
 * as JSON lines ({"event":"session",…}, {"event":"best",…}); commands come on stdin as JSON lines:
 * {"cmd":"routes","segment":"default"}, {"cmd":"status"}, {"cmd":"refresh","address":"10.0.0.1"},
 * {"cmd":"originate","prefix":"10.9.0.0/24","communities":["65010:9"]}, {"cmd":"originate-route","prefix":…,"attrs":{…}},
 * {"cmd":"withdraw","prefix":…},
 * {"cmd":"stop"} (Cease to every peer, then exit 0). Bad configuration exits 2 with the InputError text.
 * The interop tests drive it inside twin namespaces; the agent embeds {@link BgpSpeaker} directly.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { isInputError } from '../errors.ts';
import { formatAsPath, formatCommunity, type PathAttributes } from './codec/index.ts';
import { parseSpeakerConfig, NetworkSchema } from './config.ts';
import { BgpSpeaker } from './speaker.ts';
import type { Route } from './rib.ts';

const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');

/** A route as JSON for the control stream. */
export function routeJson(r: Route) {
  return {
    prefix: r.prefix, peer: r.peer?.id ?? 'local', nextHop: r.attrs.nextHop, asPath: formatAsPath(r.attrs.asPath),
    localPref: r.attrs.localPref, med: r.attrs.med, origin: r.attrs.origin,
    communities: r.attrs.communities?.map(formatCommunity), largeCommunities: r.attrs.largeCommunities?.map((l) => l.join(':')),
  };
}

async function main() {
  const file = process.argv[2];
  if (!file) { process.stderr.write('usage: run.ts CONFIG.json\n'); process.exit(2); }
  let speaker: BgpSpeaker;
  try {
    speaker = new BgpSpeaker(parseSpeakerConfig(JSON.parse(readFileSync(file, 'utf8')), file));
  } catch (e) {
    process.stderr.write(`${isInputError(e) ? e.message : `${file}: ${(e as Error).message}`}\n`);
    process.exit(2);
  }
  speaker.on('session', (s) => out({ event: 'session', ...s }));
  speaker.on('log', (l) => out({ event: 'log', text: l }));
  speaker.on('best', (c) => out({ event: 'best', segment: c.segment, prefix: c.prefix, best: c.best && routeJson(c.best) }));
  await speaker.start();
  out({ event: 'started' });
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    try {
      const c = JSON.parse(line) as { cmd: string; segment?: string; address?: string; prefix?: string };
      if (c.cmd === 'routes') out({ reply: 'routes', routes: speaker.routes(c.segment).map(routeJson) });
      else if (c.cmd === 'status') out({ reply: 'status', neighbors: speaker.status() });
      else if (c.cmd === 'refresh') { speaker.refresh(c.address!); out({ reply: 'refresh' }); }
      else if (c.cmd === 'originate') { const { cmd: _c, ...n } = c; speaker.originate(NetworkSchema.parse(n)); out({ reply: 'originate' }); }
      else if (c.cmd === 'originate-route') { const r = c as unknown as { prefix: string; attrs: PathAttributes; segment?: string }; speaker.originateRoute(r.prefix, r.attrs, r.segment); out({ reply: 'originate-route' }); }
      else if (c.cmd === 'withdraw') { speaker.withdrawNetwork(c.prefix!, c.segment); out({ reply: 'withdraw' }); }
      else if (c.cmd === 'stop') { await speaker.stop(); out({ reply: 'stop' }); setTimeout(() => process.exit(0), 300); }
      else out({ error: `unknown command ${c.cmd}` });
    } catch (e) { out({ error: (e as Error).message }); }
  }
  await speaker.stop();
  setTimeout(() => process.exit(0), 300);
}

await main();

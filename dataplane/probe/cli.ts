/**
 * A stand-alone probe tool, for tests in network namespaces and for debugging an underlay by hand:
 *
 *   node --import tsx dataplane/probe/cli.ts respond [--bind 0.0.0.0] [--port 4784]
 *   node --import tsx dataplane/probe/cli.ts probe --path 1,10.0.0.1,10.0.0.2[,transport] [--path …]
 *        [--interval 100] [--idle-interval 1000] [--no-adaptive] [--down-after 3] [--up-after 3]
 *        [--hold-down 5000] [--timeout-floor 50] [--port 4784] [--report 500]
 *
 * Output is JSON lines on stdout: `{"type":"ready",…}` once sockets are bound, `{"type":"event",…}` per
 * path event, and `{"type":"metrics",…}` every --report ms. Bad arguments exit 2 with a message.
 */
import { parseArgs } from 'node:util';
import { isIP } from 'node:net';
import { Prober } from './prober.ts';
import { Responder } from './responder.ts';
import type { BundlePath } from '../bundle/schema.ts';

const out = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
function bad(msg: string): never {
  process.stderr.write(`patronus probe: ${msg}\n`);
  process.exit(2);
}
const num = (v: string | undefined, name: string, dflt: number) => {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) bad(`--${name}: expected a non-negative number, got ${JSON.stringify(v)}`);
  return n;
};

const [cmd, ...rest] = process.argv.slice(2);
const { values } = parseArgs({
  args: rest,
  options: {
    bind: { type: 'string' }, port: { type: 'string' }, path: { type: 'string', multiple: true },
    interval: { type: 'string' }, 'idle-interval': { type: 'string' }, 'no-adaptive': { type: 'boolean' },
    'down-after': { type: 'string' }, 'up-after': { type: 'string' }, 'hold-down': { type: 'string' },
    'timeout-floor': { type: 'string' }, report: { type: 'string' },
  },
});
const port = num(values.port, 'port', 4784);

let stop: () => Promise<void>;
if (cmd === 'respond') {
  const r = new Responder({ address: values.bind ?? '0.0.0.0', port });
  await r.start();
  out({ type: 'ready', port: r.port });
  stop = () => r.stop();
} else if (cmd === 'probe') {
  const paths: BundlePath[] = (values.path ?? []).map((spec, i) => {
    const [id, local, remote, transport = 'default'] = spec.split(',');
    if (!id || !/^\d+$/.test(id) || Number(id) > 0xffff || !local || !isIP(local) || !remote || !isIP(remote)) {
      bad(`--path[${i}]: expected "ID,LOCAL_ADDRESS,REMOTE_ADDRESS[,TRANSPORT]" like "1,10.0.0.1,10.0.0.2", got ${JSON.stringify(spec)}`);
    }
    return {
      id: Number(id), peerNode: 'peer', peerSite: 'peer', peerSiteId: 0, transport, remoteTransport: transport,
      localInterface: 'wan', localAddress: local, remoteAddress: remote, mtu: 1500, role: 'active', probe: true,
    };
  });
  if (!paths.length) bad('probe: expected at least one --path');
  const p = new Prober({
    paths, port,
    budgets: Object.fromEntries(paths.map((x) => [x.transport, 10_000_000])),
    monitor: {
      intervalMs: num(values.interval, 'interval', 100), idleIntervalMs: num(values['idle-interval'], 'idle-interval', 1000),
      adaptive: !values['no-adaptive'], downAfter: num(values['down-after'], 'down-after', 3), upAfter: num(values['up-after'], 'up-after', 3),
      holdDownMs: num(values['hold-down'], 'hold-down', 5000), timeoutFloorMs: num(values['timeout-floor'], 'timeout-floor', 50),
    },
    onEvent: (e) => out({ type: 'event', ...e }),
  });
  await p.start();
  out({ type: 'ready', paths: paths.map((x) => x.id) });
  const every = num(values.report, 'report', 500);
  const t = setInterval(() => {
    const now = Date.now();
    for (const x of paths) {
      const m = p.monitor(x.id)!;
      const { srtt, jitter, lossTime, p50, p95, sent, received, lost, consecutiveMisses } = m.metrics(now);
      out({ type: 'metrics', at: now, path: x.id, state: m.state, srtt, jitter, loss: lossTime, p50, p95, sent, received, lost, consecutiveMisses, interval: p.intervalMs(x.id) });
    }
  }, every);
  stop = async () => { clearInterval(t); await p.stop(); };
} else {
  bad(`expected a command "respond" or "probe", got ${JSON.stringify(cmd ?? '')}`);
}

for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => { void stop().then(() => process.exit(0)); });

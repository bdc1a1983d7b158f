/** Command-line front of the edge agent: `patronus edge --node NAME --state-dir DIR [--socket PATH]`. */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { Agent } from './agent.ts';
import { clockFor } from './clock.ts';
import { ControllerClient, loadDeclaredInventory } from './controller-client.ts';

const USAGE = 'usage: patronus edge --node NAME --state-dir DIR [--socket PATH] [--datapath kernel|xdp|tc] [--bpf-dir DIR] [--clock-offset MS] [--clock-drift PPM]\n'
  + '       [--probe-interval MS] [--probe-idle-interval MS] [--probe-down-after N] [--probe-hold-down MS] [--probe-timeout-floor MS]\n'
  + '       [--probe-timeout-ceiling MS] [--probe-min-outage MS] [--probe-loss-window MS] [--probe-fast-loss-window MS] [--probe-passive 0|1]\n'
  + '       [--failback-hold MS] [--min-dwell MS] [--controller https://ADDR:PORT [--enrol-token T] [--commit-confirm MS] [--health-interval MS] [--inventory FILE]]\n';
/** Probe and steering tuning flags → [setting, smallest accepted value]. Absent flags keep the defaults (docs/probing.md). */
const TUNING = {
  'probe-interval': ['intervalMs', 10], 'probe-idle-interval': ['idleIntervalMs', 10], 'probe-down-after': ['downAfter', 1],
  'probe-hold-down': ['holdDownMs', 0], 'probe-timeout-floor': ['timeoutFloorMs', 1],
  'probe-timeout-ceiling': ['timeoutCeilingMs', 1], 'probe-min-outage': ['minOutageMs', 0], 'probe-loss-window': ['lossWindowMs', 100],
  'probe-fast-loss-window': ['fastWindowMs', 0],
  'probe-passive': ['usePassive', 0],
  'failback-hold': ['failbackHoldMs', 0], 'min-dwell': ['minDwellMs', 0],
} as const;
const DATAPATHS = ['kernel', 'xdp', 'tc'] as const;

export async function runAgentCli(argv: string[]): Promise<number> {
  let values: { node?: string; 'state-dir'?: string; socket?: string; 'clock-offset'?: string; 'clock-drift'?: string; datapath?: string; 'bpf-dir'?: string; help?: boolean; controller?: string; 'enrol-token'?: string; 'commit-confirm'?: string; 'health-interval'?: string; inventory?: string } & Partial<Record<keyof typeof TUNING, string>>;
  try {
    ({ values } = parseArgs({ args: argv, options: {
      node: { type: 'string' }, 'state-dir': { type: 'string' }, socket: { type: 'string' },
      'clock-offset': { type: 'string' }, 'clock-drift': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      datapath: { type: 'string' }, 'bpf-dir': { type: 'string' },
      controller: { type: 'string' }, 'enrol-token': { type: 'string' }, 'commit-confirm': { type: 'string' }, 'health-interval': { type: 'string' }, inventory: { type: 'string' },
      ...Object.fromEntries(Object.keys(TUNING).map((k) => [k, { type: 'string' as const }])),
    } }));
  } catch (e) {
    process.stderr.write(`patronus edge: ${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) { process.stdout.write(USAGE); return 0; }
  if (!values.node || !values['state-dir']) { process.stderr.write(`patronus edge: --node and --state-dir are required\n${USAGE}`); return 2; }
  // The twin's clock skew; absent on real edges, where the host clock is used unchanged.
  const offsetMs = Number(values['clock-offset'] ?? 0), driftPpm = Number(values['clock-drift'] ?? 0);
  if (!Number.isFinite(offsetMs) || !Number.isFinite(driftPpm)) {
    process.stderr.write(`patronus edge: --clock-offset takes milliseconds and --clock-drift parts per million (numbers)\n${USAGE}`);
    return 2;
  }
  const datapath = (values.datapath ?? 'kernel') as (typeof DATAPATHS)[number];
  if (!DATAPATHS.includes(datapath)) {
    process.stderr.write(`patronus edge: --datapath must be one of ${DATAPATHS.join(', ')}, got "${values.datapath}"\n${USAGE}`);
    return 2;
  }
  const tuning: Record<string, number> = {};
  for (const [flag, [key, min]] of Object.entries(TUNING)) {
    const raw = values[flag as keyof typeof TUNING];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      process.stderr.write(`patronus edge: --${flag} takes an integer ≥ ${min}, got "${raw}"\n${USAGE}`);
      return 2;
    }
    tuning[key] = n;
  }
  if ((tuning.usePassive ?? 0) > 1) {
    process.stderr.write(`patronus edge: --probe-passive takes 0 or 1, got "${values['probe-passive']}"\n${USAGE}`);
    return 2;
  }
  const { failbackHoldMs, minDwellMs, usePassive, ...numbers } = tuning;
  const monitor = { ...numbers, ...(usePassive !== undefined && { usePassive: usePassive === 1 }) };
  const steerPolicy = Object.fromEntries(Object.entries({ failbackHoldMs, minDwellMs }).filter(([, v]) => v !== undefined));
  const ms = (flag: 'commit-confirm' | 'health-interval') => (values[flag] === undefined ? undefined : Number(values[flag]));
  for (const flag of ['commit-confirm', 'health-interval'] as const) {
    const n = ms(flag);
    if (n !== undefined && (!Number.isInteger(n) || n < 100)) { process.stderr.write(`patronus edge: --${flag} takes milliseconds (an integer ≥ 100), got "${values[flag]}"\n${USAGE}`); return 2; }
  }
  if (values.controller !== undefined && !/^https:\/\/[^/]+\/?$/.test(values.controller)) {
    process.stderr.write(`patronus edge: --controller takes https://ADDR:PORT, got "${values.controller}"\n${USAGE}`);
    return 2;
  }
  // Interface roles the controller's compiler needs; validated before anything starts (InputError, exit 2).
  let declared;
  try { declared = values.inventory ? loadDeclaredInventory(values.inventory) : undefined; } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  const clock = clockFor({ offsetMs, driftPpm });
  const agent = new Agent({
    node: values.node, stateDir: values['state-dir'], socket: values.socket ?? join(values['state-dir'], 'agent.sock'), clock,
    datapath, ...(values['bpf-dir'] && { bpfDir: values['bpf-dir'] }),
    monitor, steerPolicy,
  });
  await agent.start();
  // The controller link: enrols on first start, then pulls, verifies, applies and commit-confirms bundles.
  const controller = values.controller ? new ControllerClient({
    url: values.controller, node: values.node, stateDir: values['state-dir'], agent,
    ...(values['enrol-token'] && { enrolToken: values['enrol-token'] }), ...(declared && { declared }),
    ...(ms('commit-confirm') !== undefined && { commitConfirmMs: ms('commit-confirm') }),
    ...(ms('health-interval') !== undefined && { healthIntervalMs: ms('health-interval') }),
  }) : undefined;
  if (controller) agent.linkController(() => controller.status());
  try {
    await controller?.start();
  } catch (e) {
    process.stderr.write(`patronus edge ${values.node}: controller: ${(e as Error).message}\n`);
    await agent.stop();
    return 1;
  }
  process.stdout.write(`patronus edge ${values.node}: listening on ${values.socket ?? join(values['state-dir'], 'agent.sock')}\n`);
  await new Promise<void>((resolve) => {
    for (const s of ['SIGTERM', 'SIGINT'] as const) process.once(s, () => resolve());
  });
  // Kernel routes, attached programs and pinned maps stay: forwarding survives an agent restart.
  await controller?.stop();
  await agent.stop();
  return 0;
}

/**
 * `patronus twin up|down|status|exec|link|validate`: the twin from the command line. `up` validates the lab
 * and its intent and compiles bundles before touching anything (bad input: exit 2, nothing changed), then
 * deploys with progress, pushes each edge its bundle, and prints the status table. A deploy that fails
 * half-way is rolled back unless --keep-on-failure.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { agentRequest } from '../../dataplane/index.ts';
import { exportClab, getProvider, labInventory, loadLab, providerNames, type Lab, type TwinProvider } from '../../twin/index.ts';
import { compile, loadIntent, type CompiledBundle } from '../index.ts';
import type { Inventory } from '../../dataplane/inventory.ts';
import { progressPrinter, statusTable, table } from './format.ts';
import { calibrateLab, formatMetric } from '../../twin/impair/index.ts';
import { isUsageError, UsageError } from './usage.ts';

const USAGE = `usage:
  patronus twin up LAB.yaml [--intent FILE | --no-intent] [--name NAME] [--keep-on-failure] [--provider netns|mininet|containerlab]
  patronus twin down NAME... | --stale | --all [--provider NAME]
  patronus twin status [NAME] [--json] [--provider NAME]
  patronus twin exec NAME NODE -- COMMAND [ARG...]
  patronus twin link NAME NODE:INTERFACE up|down
  patronus twin link NAME --srlg TAG up|down      (every link of a shared-risk group at once)
  patronus twin validate LAB.yaml [--intent FILE | --no-intent]
  patronus twin calibrate NAME [--probes N] [--json]   (exit 3 when a link is out of tolerance)
  patronus twin export LAB.yaml --format clab [--out DIR] [--image IMAGE]
`;


/** A lab ready to deploy: validated lab, its intent's bundles (if any), and the files they came from. */
export interface PreparedLab {
  lab: Lab;
  intentFile?: string;
  bundles: Map<string, CompiledBundle>;
  warnings: string[];
  /** Recompiles with an updated inventory (the edges' WireGuard keys, collected at bring-up). */
  recompile?: (inventory: Inventory) => Map<string, CompiledBundle>;
  inventory?: Inventory;
}

/** Validate a lab and its intent (default: intent.yaml beside the lab) and compile bundles. Touches nothing. */
export function prepareLab(file: string, opts: { intent?: string; noIntent?: boolean; name?: string } = {}): PreparedLab {
  const lab = loadLab(file, opts.name ? { rename: opts.name } : {});
  const beside = join(dirname(file), 'intent.yaml');
  const intentFile = opts.noIntent ? undefined : opts.intent ?? (existsSync(beside) ? beside : undefined);
  if (!intentFile) return { lab, bundles: new Map(), warnings: [] };
  const inventory = labInventory(lab), intent = loadIntent(intentFile);
  const { bundles, warnings } = compile(inventory, intent, { intentFile, inventoryFile: file });
  const recompile = (inv: Inventory) => compile(inv, intent, { intentFile, inventoryFile: file }).bundles;
  return { lab, intentFile, bundles, warnings, recompile, inventory };
}

/**
 * The inventory with each edge's WireGuard public key, asked from its agent (`GET /wg-key`). This is the
 * twin standing in for the controller, which takes the keys from enrolment: inventory → compiler either way.
 */
export async function collectWireguardKeys(provider: TwinProvider, labName: string, inventory: Inventory): Promise<Inventory> {
  const edges = await Promise.all(inventory.edges.map(async (e) => {
    const r = await agentRequest(provider.agentSocket(labName, e.node), 'GET', '/wg-key', undefined, 5000);
    if (r.status !== 200 || typeof r.body?.publicKey !== 'string') throw new Error(`agent ${e.node} did not report its WireGuard key (${r.status})`);
    const { wireguardKeyNext: _n, ...rest } = e;
    return { ...rest, wireguardKey: r.body.publicKey as string, wireguardKeyGeneration: (r.body.generation as number | undefined) ?? 0, ...(r.body.next && { wireguardKeyNext: r.body.next.publicKey as string }) };
  }));
  return { ...inventory, edges };
}

/** What {@link rotateWireguardKey} did: the new key and how long the overlap and the whole rotation took. */
export interface KeyRotation {
  node: string; publicKey: string; generation: number;
  /** Encrypted paths of the node that rotated. */
  paths: number;
  /** From the overlap bundles applied to every end sending into the new tunnels; the whole rotation. */
  overlapMs: number; totalMs: number;
  /** Wall-clock ms (epoch) of each step: next key made, overlap bundles applied, all switched, final bundles applied. */
  at: { rotate: number; overlap: number; switched: number; end: number };
}

/**
 * Rotate `node`'s WireGuard key without losing a packet (docs/overlay.md, "Key rotation"), the twin playing
 * the controller's part: the agent makes a next key (`POST /wg-key/rotate`); every edge gets bundles in which
 * the node's encrypted paths carry a second tunnel with it; once both ends of every such path send into the
 * new tunnel and `drainMs` has passed (packets sent into the old one before the switch have arrived), the
 * inventory's key becomes the next one and the bundles without the old tunnels remove them (the agent makes
 * its next key current when its bundle no longer names the old one). Throws when a path has not switched
 * within `timeoutMs` (the overlap bundles stay: nothing is lost, the old tunnels still carry traffic).
 * Example: `await rotateWireguardKey(p, prepared, 'edge1')` → `{publicKey: 'hT…=', generation: 1, …}`.
 */
export async function rotateWireguardKey(provider: TwinProvider, prepared: PreparedLab, node: string, opts: { timeoutMs?: number; drainMs?: number } = {}): Promise<KeyRotation> {
  const lab = prepared.lab.name, t0 = Date.now();
  if (!prepared.recompile || !prepared.inventory) throw new Error(`lab ${lab} has no intent: nothing is encrypted`);
  if (!prepared.inventory.edges.some((e) => e.node === node)) throw new Error(`${node} is not an edge of lab ${lab} (edges: ${prepared.inventory.edges.map((e) => e.node).join(', ')})`);
  const r = await agentRequest(provider.agentSocket(lab, node), 'POST', '/wg-key/rotate', undefined, 5000);
  if (r.status !== 200 || !r.body?.next) throw new Error(`agent ${node} did not start a key rotation (${r.status}): ${r.body?.error ?? ''}`);
  const next = r.body.next as { publicKey: string; generation: number };
  const withKeys = (edit: (e: Inventory['edges'][number]) => Inventory['edges'][number]): Inventory =>
    ({ ...prepared.inventory!, edges: prepared.inventory!.edges.map((e) => (e.node === node ? edit(e) : e)) });
  // Overlap: both tunnels on every encrypted path of the node.
  const overlap = withKeys((e) => ({ ...e, wireguardKey: r.body.publicKey, wireguardKeyGeneration: r.body.generation, wireguardKeyNext: next.publicKey }));
  const both = prepared.recompile(overlap);
  const ends = [...both].filter(([, b]) => b.bundle.paths.some((p) => p.wireguard?.next)).map(([n]) => n);
  const paths = both.get(node)?.bundle.paths.filter((p) => p.wireguard?.next).length ?? 0;
  await pushBundles(provider, lab, both);
  prepared.inventory = overlap;
  prepared.bundles = both;
  const tOverlap = Date.now();
  type Dev = { using: string; next?: unknown };
  const switched = async (n: string) => {
    try {
      const st = (await agentRequest(provider.agentSocket(lab, n), 'GET', '/status', undefined, 2000)).body;
      return ((st?.wireguard?.devices ?? []) as Dev[]).every((d) => !d.next || d.using === 'next');
    } catch { return false; }
  };
  const timeoutMs = opts.timeoutMs ?? 30_000;
  for (let pending = ends; pending.length; ) {
    const ok = await Promise.all(pending.map(switched));
    pending = pending.filter((_, i) => !ok[i]);
    if (!pending.length) break;
    if (Date.now() - tOverlap > timeoutMs) throw new Error(`key rotation of ${node}: ${pending.join(', ')} still send${pending.length === 1 ? 's' : ''} into the old tunnels after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 100));
  }
  const tSwitched = Date.now(), overlapMs = tSwitched - tOverlap;
  await new Promise((res) => setTimeout(res, opts.drainMs ?? 1000));
  // The end: the next key is the node's key; its bundles no longer name the old one.
  const done = withKeys((e) => { const { wireguardKeyNext: _n, ...rest } = e; return { ...rest, wireguardKey: next.publicKey, wireguardKeyGeneration: next.generation }; });
  const after = prepared.recompile(done);
  await pushBundles(provider, lab, after);
  prepared.inventory = done;
  prepared.bundles = after;
  const tEnd = Date.now();
  return { node, publicKey: next.publicKey, generation: next.generation, paths, overlapMs, totalMs: tEnd - t0, at: { rotate: t0, overlap: tOverlap, switched: tSwitched, end: tEnd } };
}

/**
 * The inventory with each WAN interface's reflexive endpoint (`reflexive`), read from the agents' status
 * (`reflexive[]`, learned from their peers' probe echoes, dataplane/agent/reflexive.ts). Waits up to
 * `timeoutMs` until no interface is still pending and every learned one knows its NAT mapping (both
 * responder ports answered); what is not learned by then stays without `reflexive` (treated as no NAT).
 * Like {@link collectWireguardKeys}, the twin standing in for the controller (which takes them from the
 * edges' reports). Example: `inv = await collectReflexive(p, 'lab1', inv)`.
 */
export async function collectReflexive(provider: TwinProvider, labName: string, inventory: Inventory, timeoutMs = 8000): Promise<Inventory> {
  type Row = { interface: string; state: string; address: string | null; port: number | null; mapping: string | null; portPreserving: boolean | null };
  const read = () => Promise.all(inventory.edges.map(async (e) => {
    try { return ((await agentRequest(provider.agentSocket(labName, e.node), 'GET', '/status', undefined, 2000)).body?.reflexive ?? []) as Row[]; } catch { return [] as Row[]; }
  }));
  let rows = await read();
  const settled = (r: Row) => r.state === 'none' || (r.state === 'learned' && r.mapping !== 'unknown');
  for (const end = Date.now() + timeoutMs; !rows.every((rs) => rs.every(settled)) && Date.now() < end; rows = await read()) {
    await new Promise((r) => setTimeout(r, 200));
  }
  const edges = inventory.edges.map((e, i) => ({
    ...e,
    interfaces: e.interfaces.map((f) => {
      const r = rows[i]!.find((x) => x.interface === f.name && x.state === 'learned');
      const { reflexive: _old, ...rest } = f;
      return r ? { ...rest, reflexive: { address: r.address!, port: r.port!, mapping: r.mapping as 'endpoint-independent', portPreserving: !!r.portPreserving } } : rest;
    }),
  }));
  return { ...inventory, edges };
}

/** Push every bundle to its edge's agent; resolves when each agent acknowledged the same content hash. */
export async function pushBundles(provider: TwinProvider, labName: string, bundles: Map<string, CompiledBundle>): Promise<void> {
  await Promise.all([...bundles].map(async ([node, { bundle, hash }]) => {
    const r = await agentRequest(provider.agentSocket(labName, node), 'PUT', '/bundle', bundle, 15_000);
    if (r.status !== 200) throw new Error(`agent ${node} refused its bundle (${r.status}): ${r.body?.error ?? ''}`);
    if (r.body.hash !== hash) throw new Error(`agent ${node} applied ${r.body.hash}, expected ${hash}`);
  }));
}

/**
 * Wait until every edge's overlay has programmed all its paths (next hops resolve as the first probes
 * flow); returns the edges still pending at the deadline. Edges without an overlay count as done.
 */
export async function waitOverlay(provider: TwinProvider, labName: string, nodes: string[], timeoutMs: number): Promise<string[]> {
  let pending = nodes;
  for (const end = Date.now() + timeoutMs; pending.length && Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const st = await Promise.all(pending.map(async (n) => {
      try { return (await agentRequest(provider.agentSocket(labName, n), 'GET', '/status', undefined, 2000)).body; } catch { return undefined; }
    }));
    pending = pending.filter((_, i) => { const o = st[i]?.overlay; return !st[i] || (o && o.unresolvedPaths.length > 0); });
  }
  return pending;
}

/**
 * Deploy a prepared lab and push its bundles; rolls back on failure unless `keep`. `push` replaces the push over
 * the agents' sockets (a scenario under a controller pushes a controller version instead: scenarios/controller.ts).
 */
export async function bringUp(provider: TwinProvider, prepared: PreparedLab, opts: { keep?: boolean; out?: NodeJS.WritableStream; push?: (bundles: Map<string, CompiledBundle>) => Promise<void> } = {}): Promise<void> {
  const out = opts.out ?? process.stderr;
  const push = opts.push ?? ((b: Map<string, CompiledBundle>) => pushBundles(provider, prepared.lab.name, b));
  const progress = progressPrinter(out);
  try {
    await provider.deploy(prepared.lab, { progress });
    // Encrypted paths need the peers' public keys, which exist only now that the agents run.
    if ([...prepared.bundles.values()].some((b) => b.bundle.paths.some((p) => p.wireguard)) && prepared.recompile && prepared.inventory) {
      prepared.inventory = await collectWireguardKeys(provider, prepared.lab.name, prepared.inventory);
      prepared.bundles = prepared.recompile(prepared.inventory);
    }
    if (prepared.bundles.size) {
      await push(prepared.bundles);
      out.write(`bundles applied on ${prepared.bundles.size} edges (${[...prepared.bundles].map(([n, b]) => `${n} ${b.hash.slice(0, 12)}`).join(', ')})\n`);
      const t0 = Date.now();
      const pending = await waitOverlay(provider, prepared.lab.name, [...prepared.bundles.keys()], 15_000);
      out.write(pending.length
        ? `overlay: paths still without a resolved next hop after 15 s on ${pending.join(', ')}\n`
        : `overlay: every path programmed ${Date.now() - t0} ms after the bundles\n`);
      // Edges behind NAT: peers must dial their reflexive endpoints, or relay through a hub (docs/overlay.md,
      // "NAT traversal"). Learned from the hubs once the first bundles run, so a second compile follows.
      if (prepared.recompile && prepared.inventory && [...prepared.bundles.values()].some((b) => b.bundle.paths.some((p) => p.wireguard))) {
        const inv = await collectReflexive(provider, prepared.lab.name, prepared.inventory);
        prepared.inventory = inv;
        const next = prepared.recompile(inv);
        // Without NAT the reflexive endpoints change nothing: the same bundles are not pushed twice.
        if ([...next].some(([n, b]) => prepared.bundles.get(n)?.hash !== b.hash)) {
          prepared.bundles = next;
          await push(prepared.bundles);
          const behind = inv.edges.flatMap((e) => e.interfaces.filter((f) => f.reflexive && f.reflexive.address !== f.ipv4[0]?.split('/')[0]).map((f) => `${e.node}:${f.name} ${f.reflexive!.address}:${f.reflexive!.port} ${f.reflexive!.mapping}`));
          out.write(`nat: ${behind.length ? behind.join(', ') : 'no interface behind NAT'}; bundles recompiled and applied\n`);
          const late = await waitOverlay(provider, prepared.lab.name, [...prepared.bundles.keys()], 15_000);
          if (late.length) out.write(`overlay: paths still without a resolved next hop after 15 s on ${late.join(', ')}\n`);
        }
      }
    }
  } catch (e) {
    if (!opts.keep) {
      out.write(`deploy failed; rolling back ${prepared.lab.name}\n`);
      await provider.destroy(prepared.lab.name);
    }
    throw e;
  }
}

export async function runTwin(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    switch (sub) {
      case 'up': return await up(rest);
      case 'down': return await down(rest);
      case 'status': return await status(rest);
      case 'exec': return await exec(rest);
      case 'link': return await link(rest);
      case 'validate': return validateCmd(rest);
      case 'calibrate': return await calibrate(rest);
      case 'export': return exportCmd(rest);
      case undefined: case '-h': case '--help': process.stdout.write(USAGE); return sub ? 0 : 2;
      default: throw new UsageError(`unknown twin command "${sub}" (known: up, down, status, exec, link, validate, export, calibrate)`);
    }
  } catch (e) {
    if (isUsageError(e)) {
      process.stderr.write(`patronus twin: ${(e as Error).message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
}

/**
 * The provider a command uses: `--provider NAME` when given; for a deployed lab, the provider that lists
 * it (a mininet lab is found through its state under /run/patronus/<lab>/); else netns, the default.
 */
async function provider(opts: { name?: string; lab?: string } = {}): Promise<TwinProvider> {
  if (opts.name) return getProvider(opts.name);
  if (opts.lab) {
    for (const n of providerNames()) {
      const p = getProvider(n);
      // A provider whose tool is missing (containerlab) cannot hold the lab: skip it.
      try { if ((await p.list()).includes(opts.lab)) return p; } catch { /* unsupported here */ }
    }
  }
  return getProvider('netns');
}

/** Every provider that works on this host (for --all, --stale and the lab list). */
async function usableProviders(name?: string): Promise<TwinProvider[]> {
  if (name) return [getProvider(name)];
  const out: TwinProvider[] = [];
  for (const n of providerNames()) { const p = getProvider(n); try { await p.list(); out.push(p); } catch { /* unsupported here */ } }
  return out;
}

async function up(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    intent: { type: 'string' }, 'no-intent': { type: 'boolean' }, name: { type: 'string' }, 'keep-on-failure': { type: 'boolean' }, provider: { type: 'string' },
  } });
  if (positionals.length !== 1) throw new UsageError('twin up takes one lab file');
  const prepared = prepareLab(positionals[0]!, { intent: values.intent, noIntent: values['no-intent'], name: values.name });
  for (const w of prepared.warnings) process.stderr.write(`warning: ${w}\n`);
  const p = await provider({ name: values.provider ?? 'netns' });
  await bringUp(p, prepared, { keep: values['keep-on-failure'] });
  process.stdout.write(statusTable(await p.inspect(prepared.lab.name)));
  return 0;
}

async function down(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { stale: { type: 'boolean' }, all: { type: 'boolean' }, provider: { type: 'string' } } });
  if (!positionals.length && !values.all && !values.stale) throw new UsageError('twin down needs lab names, --stale or --all');
  const labs: [string, TwinProvider][] = [];
  if (values.all || values.stale) {
    for (const p of await usableProviders(values.provider)) for (const l of values.all ? await p.list() : await p.stale()) labs.push([l, p]);
  } else for (const l of positionals) labs.push([l, await provider({ name: values.provider, lab: l })]);
  for (const [lab, p] of labs) {
    const r = await p.destroy(lab);
    process.stdout.write(`${lab}: removed ${r.namespaces.length} namespaces, stopped ${r.processes} processes${r.pins.length ? `, removed ${r.pins.length} BPF pin folders` : ''}\n`);
  }
  if (!labs.length) process.stdout.write('nothing to remove\n');
  return 0;
}

async function status(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' }, provider: { type: 'string' } } });
  const found: [string, TwinProvider][] = [];
  if (positionals.length) for (const l of positionals) found.push([l, await provider({ name: values.provider, lab: l })]);
  else for (const p of await usableProviders(values.provider)) for (const l of await p.list()) found.push([l, p]);
  const all = await Promise.all(found.map(([n, p]) => p.inspect(n)));
  if (values.json) { process.stdout.write(JSON.stringify(all, null, 1) + '\n'); return 0; }
  if (!positionals.length) {
    process.stdout.write(all.length ? table([['LAB', 'STATE', 'NODES'], ...all.map((s) => [s.lab, s.state, String(s.nodes.length)])]) : 'no labs deployed\n');
    return 0;
  }
  for (const s of all) process.stdout.write(statusTable(s));
  return all.every((s) => s.state === 'up') ? 0 : 1;
}

async function exec(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const head = dash < 0 ? argv.slice(0, 2) : argv.slice(0, dash);
  const cmd = dash < 0 ? argv.slice(2) : argv.slice(dash + 1);
  if (head.length !== 2 || !cmd.length) throw new UsageError('twin exec takes NAME NODE -- COMMAND');
  const r = await (await provider({ lab: head[0]! })).exec(head[0]!, head[1]!, cmd);
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.code;
}

async function link(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { srlg: { type: 'string' } } });
  const [lab, ...rest] = positionals;
  const [endpoint, state, ...extra] = values.srlg ? [undefined, ...rest] : rest;
  if (!lab || (!endpoint && !values.srlg) || (state !== 'up' && state !== 'down') || extra.length) {
    throw new UsageError('twin link takes NAME NODE:INTERFACE up|down, or NAME --srlg TAG up|down');
  }
  const p = await provider({ lab });
  if (values.srlg) {
    if (!p.srlgLinks) throw new UsageError(`the ${p.name} provider does not record shared-risk groups`);
    const ends = await p.srlgLinks(lab, values.srlg);
    // A shared conduit fails at once: cut every member before reporting.
    await Promise.all(ends.map((e) => p.setLinkState(lab, e, state)));
    process.stdout.write(`${lab} srlg ${values.srlg} (${ends.join(', ')}): ${state}\n`);
    return 0;
  }
  await p.setLinkState(lab, endpoint!, state);
  process.stdout.write(`${lab} ${endpoint}: ${state}\n`);
  return 0;
}

function validateCmd(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { intent: { type: 'string' }, 'no-intent': { type: 'boolean' } } });
  if (positionals.length !== 1) throw new UsageError('twin validate takes one lab file');
  const p = prepareLab(positionals[0]!, { intent: values.intent, noIntent: values['no-intent'] });
  for (const w of p.warnings) process.stderr.write(`warning: ${w}\n`);
  process.stdout.write(`${positionals[0]}: ok (${Object.keys(p.lab.nodes).length} nodes, ${p.lab.links.length} links)\n`);
  if (p.intentFile) process.stdout.write(`${p.intentFile}: ok (${p.bundles.size} bundles: ${[...p.bundles].map(([n, b]) => `${n} ${b.hash.slice(0, 12)}`).join(', ')})\n`);
  return 0;
}

/** `twin export LAB.yaml --format clab [--out DIR]`: the containerlab topology (and netem script) of a lab. */
function exportCmd(argv: string[]): number {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { format: { type: 'string' }, out: { type: 'string' }, image: { type: 'string' } } });
  if (positionals.length !== 1) throw new UsageError('twin export takes one lab file');
  if (values.format !== 'clab') throw new UsageError(`twin export needs --format clab (the only export format)${values.format ? `, got "${values.format}"` : ''}`);
  const lab = loadLab(positionals[0]!);
  for (const f of exportClab(lab, values.out ?? '.', values.image ? { image: values.image } : {})) process.stdout.write(`wrote ${f}\n`);
  return 0;
}

/** Measure every delay-line link against its parameters; a table with the accepted range; exit 3 when any is out. */
async function calibrate(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { probes: { type: 'string' }, json: { type: 'boolean' } } });
  if (positionals.length !== 1) throw new UsageError('twin calibrate takes one lab name');
  const probes = values.probes === undefined ? undefined : Number(values.probes);
  if (probes !== undefined && !(Number.isInteger(probes) && probes >= 100)) throw new UsageError('--probes: expected an integer of at least 100');
  const rows = await calibrateLab(positionals[0]!, probes ? { probes } : {});
  if (values.json) process.stdout.write(JSON.stringify(rows, null, 1) + '\n');
  else if (!rows.length) process.stdout.write(`${positionals[0]}: no link has a delay line (nothing to calibrate)\n`);
  else {
    process.stdout.write(table([['LINK', 'DIRECTION', 'METRIC', 'CONFIGURED', 'MEASURED', 'ACCEPTED', 'OK'], ...rows.map((r) => [
      r.link, r.direction, r.metric, formatMetric(r.metric, r.configured), formatMetric(r.metric, r.measured),
      `${formatMetric(r.metric, r.low)} … ${formatMetric(r.metric, r.high)}`, r.ok ? 'ok' : 'OUT',
    ])]));
  }
  const out = rows.filter((r) => !r.ok).length;
  if (out) process.stderr.write(`${out} of ${rows.length} measurements out of tolerance: the twin is not trustworthy\n`);
  return out ? 3 : 0;
}

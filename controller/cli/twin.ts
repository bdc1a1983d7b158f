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
import { getProvider, labInventory, loadLab, type Lab, type TwinProvider } from '../../twin/index.ts';
import { compile, loadIntent, type CompiledBundle } from '../index.ts';
import { progressPrinter, statusTable, table } from './format.ts';

const USAGE = `usage:
  patronus twin up LAB.yaml [--intent FILE | --no-intent] [--name NAME] [--keep-on-failure]
  patronus twin down NAME... | --stale | --all
  patronus twin status [NAME] [--json]
  patronus twin exec NAME NODE -- COMMAND [ARG...]
  patronus twin link NAME NODE:INTERFACE up|down
  patronus twin validate LAB.yaml [--intent FILE | --no-intent]
`;

class UsageError extends Error {}

/** A lab ready to deploy: validated lab, its intent's bundles (if any), and the files they came from. */
export interface PreparedLab {
  lab: Lab;
  intentFile?: string;
  bundles: Map<string, CompiledBundle>;
  warnings: string[];
}

/** Validate a lab and its intent (default: intent.yaml beside the lab) and compile bundles. Touches nothing. */
export function prepareLab(file: string, opts: { intent?: string; noIntent?: boolean; name?: string } = {}): PreparedLab {
  const lab = loadLab(file, opts.name ? { rename: opts.name } : {});
  const beside = join(dirname(file), 'intent.yaml');
  const intentFile = opts.noIntent ? undefined : opts.intent ?? (existsSync(beside) ? beside : undefined);
  if (!intentFile) return { lab, bundles: new Map(), warnings: [] };
  const { bundles, warnings } = compile(labInventory(lab), loadIntent(intentFile), { intentFile, inventoryFile: file });
  return { lab, intentFile, bundles, warnings };
}

/** Push every bundle to its edge's agent; resolves when each agent acknowledged the same content hash. */
export async function pushBundles(provider: TwinProvider, labName: string, bundles: Map<string, CompiledBundle>): Promise<void> {
  await Promise.all([...bundles].map(async ([node, { bundle, hash }]) => {
    const r = await agentRequest(provider.agentSocket(labName, node), 'PUT', '/bundle', bundle, 15_000);
    if (r.status !== 200) throw new Error(`agent ${node} refused its bundle (${r.status}): ${r.body?.error ?? ''}`);
    if (r.body.hash !== hash) throw new Error(`agent ${node} applied ${r.body.hash}, expected ${hash}`);
  }));
}

/** Deploy a prepared lab and push its bundles; rolls back on failure unless `keep`. */
export async function bringUp(provider: TwinProvider, prepared: PreparedLab, opts: { keep?: boolean; out?: NodeJS.WritableStream } = {}): Promise<void> {
  const out = opts.out ?? process.stderr;
  const progress = progressPrinter(out);
  try {
    await provider.deploy(prepared.lab, { progress });
    if (prepared.bundles.size) {
      await pushBundles(provider, prepared.lab.name, prepared.bundles);
      out.write(`bundles applied on ${prepared.bundles.size} edges (${[...prepared.bundles].map(([n, b]) => `${n} ${b.hash.slice(0, 12)}`).join(', ')})\n`);
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
      case undefined: case '-h': case '--help': process.stdout.write(USAGE); return sub ? 0 : 2;
      default: throw new UsageError(`unknown twin command "${sub}" (known: up, down, status, exec, link, validate)`);
    }
  } catch (e) {
    if (e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`patronus twin: ${(e as Error).message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
}

const provider = () => getProvider('netns');

async function up(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: {
    intent: { type: 'string' }, 'no-intent': { type: 'boolean' }, name: { type: 'string' }, 'keep-on-failure': { type: 'boolean' },
  } });
  if (positionals.length !== 1) throw new UsageError('twin up takes one lab file');
  const prepared = prepareLab(positionals[0]!, { intent: values.intent, noIntent: values['no-intent'], name: values.name });
  for (const w of prepared.warnings) process.stderr.write(`warning: ${w}\n`);
  const p = provider();
  await bringUp(p, prepared, { keep: values['keep-on-failure'] });
  process.stdout.write(statusTable(await p.inspect(prepared.lab.name)));
  return 0;
}

async function down(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { stale: { type: 'boolean' }, all: { type: 'boolean' } } });
  const p = provider();
  const labs = values.all ? await p.list() : values.stale ? await p.stale() : positionals;
  if (!labs.length && !values.all && !values.stale) throw new UsageError('twin down needs lab names, --stale or --all');
  for (const lab of labs) {
    const r = await p.destroy(lab);
    process.stdout.write(`${lab}: removed ${r.namespaces.length} namespaces, stopped ${r.processes} processes${r.pins.length ? `, removed ${r.pins.length} BPF pin folders` : ''}\n`);
  }
  if (!labs.length) process.stdout.write('nothing to remove\n');
  return 0;
}

async function status(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { json: { type: 'boolean' } } });
  const p = provider();
  const names = positionals.length ? positionals : await p.list();
  const all = await Promise.all(names.map((n) => p.inspect(n)));
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
  const r = await provider().exec(head[0]!, head[1]!, cmd);
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.code;
}

async function link(argv: string[]): Promise<number> {
  const [lab, endpoint, state, ...extra] = argv;
  if (!lab || !endpoint || (state !== 'up' && state !== 'down') || extra.length) throw new UsageError('twin link takes NAME NODE:INTERFACE up|down');
  await provider().setLinkState(lab, endpoint, state);
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

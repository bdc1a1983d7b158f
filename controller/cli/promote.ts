/**
 * `patronus promote VERSION|INTENT …`, `promote status [ID]`, `promote resume ID`, `approve ID`, `abort ID`:
 * the promotion workflow (docs/promotion.md) on the controller state directory (`--state DIR`, default
 * .patronus/controller), no server needed. `promote` runs the promotion in the foreground until it is done,
 * rolled back or failed (exit 0, 1, 1); Ctrl-C stops it here and leaves it resumable (`promote resume ID`, or
 * `patronus controller serve` picks it up). `approve` and `abort` record the operator's request in the audit
 * log; the runner of the promotion (this CLI in another shell, or the controller) acts on it.
 * An INTENT file that is not yet a stored version is pushed first, like `patronus intent push`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { parseDuration } from '../../dataplane/units.ts';
import { InputError } from '../../dataplane/errors.ts';
import { withStateStore, stateFiles, DEFAULT_STATE_DIR, type Store } from '../store/index.ts';
import { addVersion, intentHash, loadOrCreateSigningKey } from '../versions/index.ts';
import { inventoryFromFile, inventoryFromLab, inventoryFromStore, noInventoryError } from '../versions/inventory.ts';
import { parseIntent } from '../intent/index.ts';
import {
  DEFAULT_OPTIONS, FINAL_STATUSES, getPromotionView, isPromotionBusyError, isPromotionRequestError, listPromotionViews, requestAbort,
  requestApproval, resumePromotion, startPromotion, twinVerifier, type PromotionHandle, type PromotionOptions, type PromotionView,
} from '../promotion/index.ts';
import { registerCommand } from './cli.ts';
import { table } from './format.ts';

const USAGE = `usage:
  patronus promote VERSION|INTENT.yaml [--canary EDGE,EDGE] [--waves 10,50,100] [--soak 10m] [--wave-soak 1m]
                   [--ack-timeout 2m] [--rollback-timeout 5m] [--min-sla 99%] [--approve-required]
                   [--suite DIR] [--lab LAB.yaml | --inventory FILE] [--state DIR]
  patronus promote status [ID] [--state DIR] [--json]
  patronus promote resume ID [--suite DIR] [--state DIR]
  patronus approve ID [--state DIR]
  patronus abort ID [--reason TEXT] [--state DIR]
Exit: 0 done, 1 rolled back or failed, 2 bad input.
`;

const OPTIONS = {
  state: { type: 'string' }, canary: { type: 'string' }, waves: { type: 'string' }, soak: { type: 'string' },
  'wave-soak': { type: 'string' }, 'ack-timeout': { type: 'string' }, 'rollback-timeout': { type: 'string' },
  'min-sla': { type: 'string' }, 'approve-required': { type: 'boolean' }, suite: { type: 'string' }, lab: { type: 'string' },
  inventory: { type: 'string' }, reason: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
} as const;
type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new InputError('command line', [{ path: [], message: `${(e as Error).message}\n${USAGE}` }]);
  }
}

const actor = () => { try { return `cli:${userInfo().username}`; } catch { return 'cli:unknown'; } };
const bad = (flag: string, message: string) => new InputError('command line', [{ path: [flag], message }]);
const out = (s: string) => process.stdout.write(s);
const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'));

function duration(flag: string, s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const ms = parseDuration(s);
  if (ms === undefined || ms < 0) throw bad(flag, `expected a duration like 30s, 10m or 1h, got "${s}"`);
  return Math.round(ms);
}

/** The promotion options from the command line; every value checked, InputError naming the flag. */
export function optionsFromFlags(v: Values): Partial<PromotionOptions> {
  const o: Partial<PromotionOptions> = {};
  if (v.canary !== undefined) {
    const c = v.canary.split(',').map((x) => x.trim()).filter(Boolean);
    if (!c.length) throw bad('--canary', 'expected edge names separated by commas, e.g. edge1,edge2');
    o.canary = c;
  }
  if (v.waves !== undefined) {
    const w = v.waves.split(',').map((x) => Number(x.trim().replace(/%$/, '')));
    if (w.some((p) => !Number.isFinite(p) || p <= 0 || p > 100)) throw bad('--waves', `expected percentages in (0, 100] separated by commas, e.g. 10,50,100, got "${v.waves}"`);
    if (w.some((p, i) => i > 0 && p <= w[i - 1]!)) throw bad('--waves', `expected ascending percentages, got "${v.waves}"`);
    if (w[w.length - 1] !== 100) throw bad('--waves', `expected the last wave to be 100 (every edge), got "${v.waves}"`);
    o.waves = w;
  }
  const soak = duration('--soak', v.soak), waveSoak = duration('--wave-soak', v['wave-soak']);
  const ack = duration('--ack-timeout', v['ack-timeout']), rb = duration('--rollback-timeout', v['rollback-timeout']);
  if (soak !== undefined) o.soakMs = soak;
  if (waveSoak !== undefined) o.waveSoakMs = waveSoak;
  if (ack !== undefined) o.ackTimeoutMs = ack;
  if (rb !== undefined) o.rollbackTimeoutMs = rb;
  if (v['min-sla'] !== undefined) {
    const pct = /^(\d+(?:\.\d+)?)%$/.exec(v['min-sla']);
    const f = pct ? Number(pct[1]) / 100 : Number(v['min-sla']);
    if (!Number.isFinite(f) || f < 0 || f > 1) throw bad('--min-sla', `expected a percentage like 99% or a fraction like 0.99, got "${v['min-sla']}"`);
    o.gates = { ...DEFAULT_OPTIONS.gates, minSlaCompliance: f };
  }
  if (v['approve-required']) o.approvalRequired = true;
  return o;
}

async function withStore<T>(v: Values, fn: (s: Store) => Promise<T>, create = false): Promise<T> {
  const file = stateFiles(v.state ?? DEFAULT_STATE_DIR).store;
  if (!create && !existsSync(file)) throw bad('--state', `no controller state in ${stateFiles(v.state ?? DEFAULT_STATE_DIR).root} (push an intent first: patronus intent push FILE)`);
  return withStateStore(v.state, fn);
}

/** VERSION → that stored version; INTENT file → the stored version with the same text, else pushed now. */
async function resolveVersion(arg: string, text: string | null, v: Values, store: Store): Promise<number> {
  if (text === null) {
    if (!(await store.getVersion(Number(arg)))) throw new InputError('command line', [{ path: ['VERSION'], message: `version ${arg} does not exist (latest: ${(await store.latestVersion())?.id ?? 'none'})` }]);
    return Number(arg);
  }
  const hash = intentHash(text);
  const same = (await store.listVersions({ limit: 1000 })).find((x) => x.intentHash === hash);
  if (same) { out(`intent ${arg} is version ${same.id}\n`); return same.id; }
  const inv = v.inventory ? inventoryFromFile(v.inventory) : v.lab ? inventoryFromLab(v.lab) : await inventoryFromStore(store);
  if (!inv) throw noInventoryError(arg);
  const key = loadOrCreateSigningKey(stateFiles(v.state ?? DEFAULT_STATE_DIR).root);
  const r = await addVersion(store, { yaml: text, file: arg }, {
    author: actor().slice(4), message: `promote ${arg}`, inventory: inv.inventory, inventoryFile: inv.file, signingKey: key.privateKey, audit: { actor: actor() },
  });
  out(`intent ${arg} pushed as version ${r.version.id} (${r.bundles.size} signed bundles)\n`);
  return r.version.id;
}

/** Runs `h` in the foreground until final; Ctrl-C stops it here (resumable). Exit code 0 done, 1 otherwise. */
async function foreground(h: PromotionHandle): Promise<number> {
  const onSignal = () => { process.stderr.write(`stopping; promotion ${h.id} stays resumable (patronus promote resume ${h.id})\n`); void h.stop(); };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const view = await h.done;
    out(`promotion ${view.id}: ${view.status}${view.reason ? ` — ${view.reason}` : ''}\n`);
    return view.status === 'done' ? 0 : 1;
  } catch (e) {
    process.stderr.write(`promotion ${h.id} stopped: ${(e as Error).message}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const runnerOpts = (v: Values) => ({
  verify: twinVerifier({ suite: v.suite ?? 'scenarios', log: (l: string) => process.stderr.write(`  ${l}\n`) }),
  log: (l: string) => process.stderr.write(`${iso(Date.now())} ${l}\n`),
});

function showOne(p: PromotionView): string {
  const rows: [string, string][] = [
    ['promotion', p.id], ['version', `${p.fromVersion ?? 'none'} → ${p.version}`], ['status', p.status], ['step', p.step],
    ['started', `${iso(p.startedAt)} by ${p.by}`], ['finished', iso(p.finishedAt)],
    ['approval', p.approvalRequired ? (p.approvedBy ? `approved by ${p.approvedBy}` : 'required') : 'not required'],
    ['canary', p.plan?.canary.join(', ') ?? '-'],
    ['waves', p.plan ? p.plan.waves.map((w, i) => `${i + 1}: ${w.join(', ')}`).join(' | ') || '-' : '-'],
    ['touched', p.touched.join(', ') || '-'], ['excluded', p.excluded.join(', ') || '-'],
    ['verified', p.verification ? `${p.verification.verdict}${p.verification.reused ? ' (stored report)' : ''}` : '-'],
    ['runner', p.owner ?? (FINAL_STATUSES.includes(p.status) ? '-' : 'nobody (patronus promote resume ID)')],
    ['reason', p.reason ?? '-'],
  ];
  return rows.map(([k, val]) => `${k.padEnd(10)} ${val}`).join('\n') + '\n';
}

async function status(v: Values, id: string | undefined): Promise<number> {
  return withStore(v, async (store) => {
    if (id) {
      const p = await getPromotionView(store, id);
      if (!p) throw new InputError('command line', [{ path: ['ID'], message: `no promotion ${id}` }]);
      out(v.json ? `${JSON.stringify(p)}\n` : showOne(p));
      return 0;
    }
    const all = await listPromotionViews(store);
    if (v.json) { out(`${JSON.stringify(all)}\n`); return 0; }
    if (!all.length) { out('no promotions yet\n'); return 0; }
    out(table([['ID', 'VERSION', 'STATUS', 'STARTED', 'BY', 'REASON'], ...all.map((p) => [
      p.id, `${p.fromVersion ?? '-'}→${p.version}`, p.status, iso(p.startedAt), p.by, (p.reason ?? '').slice(0, 80),
    ])]));
    return 0;
  });
}

async function promoteCli(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv);
  if (v.help) { out(USAGE); return 0; }
  const [first, ...rest] = positionals;
  if (first === 'status') return status(v, rest[0]);
  if (first === 'resume') {
    if (rest.length !== 1) throw bad('ID', `promote resume takes one promotion id\n${USAGE}`);
    return withStore(v, async (store) => foreground(await resumePromotion(store, rest[0]!, runnerOpts(v)).catch(requestError)));
  }
  if (!first || rest.length) throw bad('VERSION', `promote takes one version number or intent file\n${USAGE}`);
  const options = optionsFromFlags(v);
  // An intent file is read and validated before the store is opened, so bad input changes nothing on disk.
  let text: string | null = null;
  if (!/^\d+$/.test(first)) {
    try { text = readFileSync(first, 'utf8'); } catch (cause) {
      throw new InputError(first, [{ path: [], message: `expected a version number or an intent file: ${(cause as Error).message}` }], { cause });
    }
    parseIntent(text, first);
  }
  return withStore(v, async (store) => {
    const version = await resolveVersion(first, text, v, store);
    const h = await startPromotion(store, { version, by: actor(), options }, runnerOpts(v)).catch(requestError);
    out(`promotion ${h.id}: version ${version}${options.approvalRequired ? ` — waiting for approval after verification (patronus approve ${h.id})` : ''}\n`);
    return foreground(h);
  }, text !== null);
}

/** Promotion request errors are the user's: exit 2 with the message. */
function requestError(e: unknown): never {
  if (isPromotionRequestError(e) || isPromotionBusyError(e)) throw new InputError('command line', [{ path: ['ID'], message: (e as Error).message }]);
  throw e;
}

async function approveCli(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv);
  if (v.help) { out(USAGE); return 0; }
  if (positionals.length !== 1) throw bad('ID', `approve takes one promotion id\n${USAGE}`);
  return withStore(v, async (store) => {
    const p = await requestApproval(store, positionals[0]!, actor()).catch(requestError);
    out(`approval of ${p.id} recorded${p.owner ? `; ${p.owner} runs it` : `; nobody runs it now: patronus promote resume ${p.id}`}\n`);
    return 0;
  });
}

async function abortCli(argv: string[]): Promise<number> {
  const { values: v, positionals } = parse(argv);
  if (v.help) { out(USAGE); return 0; }
  if (positionals.length !== 1) throw bad('ID', `abort takes one promotion id\n${USAGE}`);
  return withStore(v, async (store) => {
    const p = await requestAbort(store, positionals[0]!, actor(), v.reason ?? 'aborted by the operator').catch(requestError);
    out(`abort of ${p.id} recorded; every touched edge goes back to version ${p.fromVersion ?? 'none'}${p.owner ? ` (${p.owner} runs it)` : `; nobody runs it now: patronus promote resume ${p.id}`}\n`);
    return 0;
  });
}

registerCommand({ name: 'promote', summary: 'roll an intent version out: verify, canary, soak, waves, or roll back (status, resume)', run: promoteCli });
registerCommand({ name: 'approve', summary: 'approve a promotion waiting at its approval gate', run: approveCli });
registerCommand({ name: 'abort', summary: 'abort a promotion: every touched edge goes back', run: abortCli });

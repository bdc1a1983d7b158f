/**
 * `patronus intent push|list|show|diff|rollback` and `patronus token create|list|delete`: the version history
 * and operator tokens, working directly on the controller state directory (`--state DIR`, default
 * .patronus/controller) — no server needed. Every change is written to the audit log as `cli:<user>`; an
 * intent that does not validate exits 2 naming file and key path, and stores no version (the failed attempt
 * is audited only when a store already exists, so a typo never creates state).
 */
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { InputError, isInputError } from '../../dataplane/errors.ts';
import { isStoreConflictError, withStateStore, stateFiles, DEFAULT_STATE_DIR, type Role, type Store } from '../store/index.ts';
import {
  addVersion, diffVersions, loadOrCreateSigningKey, rollbackTo, UnknownVersionError, type IntentChange,
} from '../versions/index.ts';
import { inventoryFromFile, inventoryFromLab, inventoryFromStore, noInventoryError, type InventorySource } from '../versions/inventory.ts';
import { parseIntent } from '../intent/index.ts';
import { createOperatorToken, isRole } from '../opapi/tokens.ts';
import { registerCommand } from './cli.ts';
import { table } from './format.ts';
import { isUsageError, UsageError } from './usage.ts';

const INTENT_USAGE = `usage:
  patronus intent push FILE [--message M] [--author A] [--lab LAB.yaml | --inventory FILE] [--state DIR] [--json]
  patronus intent list [--limit N] [--state DIR] [--json]
  patronus intent show V [--yaml] [--state DIR] [--json]
  patronus intent diff A B [--state DIR] [--json]
  patronus intent rollback V [--message M] [--lab LAB.yaml | --inventory FILE] [--state DIR] [--json]
Inventory: --inventory, else --lab, else lab.yaml beside FILE (push), else the enrolled edges' reports.
`;
const TOKEN_USAGE = `usage:
  patronus token create NAME --role admin|operator|viewer [--state DIR]
  patronus token list [--state DIR] [--json]
  patronus token delete NAME [--state DIR]
`;


const OPTIONS = {
  state: { type: 'string' },
  message: { type: 'string', short: 'm' },
  author: { type: 'string' },
  lab: { type: 'string' },
  inventory: { type: 'string' },
  json: { type: 'boolean' },
  yaml: { type: 'boolean' },
  limit: { type: 'string' },
  role: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parse>['values'];
const parse = (argv: string[]) => parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });

const cliUser = () => {
  try { return userInfo().username; } catch { return process.env.USER ?? 'unknown'; }
};
const actor = () => `cli:${cliUser()}`;
const out = (s: string) => process.stdout.write(s);
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

const withStore = <T>(v: Values, fn: (s: Store) => Promise<T>): Promise<T> => withStateStore(v.state, fn);

function versionArg(s: string | undefined, what: string): number {
  if (s === undefined) throw new UsageError(`${what}: missing version number`);
  if (!/^\d+$/.test(s)) throw new InputError(what, [{ path: [], message: `expected a version number like 3, got "${s}"` }]);
  return Number(s);
}

async function inventoryFor(v: Values, store: Store, intentFile?: string): Promise<InventorySource> {
  if (v.inventory) return inventoryFromFile(v.inventory);
  if (v.lab) return inventoryFromLab(v.lab);
  const beside = intentFile ? join(dirname(intentFile), 'lab.yaml') : undefined;
  if (beside && existsSync(beside)) return inventoryFromLab(beside);
  const enrolled = await inventoryFromStore(store);
  if (enrolled) return enrolled;
  throw noInventoryError(intentFile ?? 'intent');
}

/** Audits a failed change when a store already exists; never creates one. */
async function auditFailure(v: Values, action: string, target: string | null, e: unknown): Promise<void> {
  const file = stateFiles(v.state ?? DEFAULT_STATE_DIR).store;
  if (!existsSync(file)) return;
  await withStore(v, (s) => s.appendAudit({ actor: actor(), action, target, outcome: 'error', detail: { error: (e as Error).message } }));
}

function changeRows(changes: IntentChange[]): string[][] {
  const show = (x: unknown) => (x === undefined ? '' : JSON.stringify(x).slice(0, 60));
  return [['CHANGE', 'PATH', 'OLD', 'NEW'], ...changes.map((c) => [c.kind, c.path, show(c.old), show(c.new)])];
}

async function push(file: string, v: Values): Promise<number> {
  try {
    // Open the store only after the intent parsed, so bad input changes nothing on disk.
    let text: string;
    try { text = readFileSync(file, 'utf8'); } catch (cause) {
      throw new InputError(file, [{ path: [], message: `cannot read the intent file: ${(cause as Error).message}` }], { cause });
    }
    parseIntent(text, file);
    return await withStore(v, async (store) => {
      const inv = await inventoryFor(v, store, file);
      const key = loadOrCreateSigningKey(stateFiles(v.state ?? DEFAULT_STATE_DIR).root);
      const r = await addVersion(store, { yaml: text, file }, {
        author: v.author ?? cliUser(), message: v.message ?? '', inventory: inv.inventory, inventoryFile: inv.file,
        signingKey: key.privateKey, audit: { actor: actor() },
      });
      const parent = r.version.parent;
      const blast = r.blast;
      for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
      if (v.json) out(`${JSON.stringify({ version: r.version.id, parent, edges: r.bundles.size, keyId: key.keyId, blast })}\n`);
      else out(`version ${r.version.id}: ${r.bundles.size} signed bundles (key ${key.keyId})${blast ? `; ${blast.summary} since version ${parent}` : ''}\n`);
      return 0;
    });
  } catch (e) {
    if (isInputError(e)) await auditFailure(v, 'intent.push', null, e);
    throw e;
  }
}

async function list(v: Values): Promise<number> {
  return withStore(v, async (store) => {
    const limit = v.limit !== undefined ? Number(v.limit) : undefined;
    if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) throw new InputError('--limit', [{ path: [], message: `expected a positive integer, got "${v.limit}"` }]);
    const versions = await store.listVersions({ limit });
    const rows = await Promise.all(versions.map(async (x) => ({ ...x, edges: (await store.listBundleHashes(x.id)).length })));
    if (v.json) {
      out(`${JSON.stringify(rows.map(({ intentYaml: _y, report, ...rest }) => ({ ...rest, verified: report !== null })))}\n`);
      return 0;
    }
    if (!rows.length) { out('no intent versions yet\n'); return 0; }
    out(table([['VERSION', 'PARENT', 'CREATED', 'AUTHOR', 'EDGES', 'MESSAGE'], ...rows.map((x) => [
      String(x.id), x.parent === null ? '-' : String(x.parent), iso(x.createdAt), x.author, String(x.edges),
      x.restores !== null ? `${x.message} (restores ${x.restores})` : x.message,
    ])]));
    return 0;
  });
}

async function show(id: number, v: Values): Promise<number> {
  return withStore(v, async (store) => {
    const x = await store.getVersion(id);
    if (!x) throw new UnknownVersionError('intent show', id, (await store.latestVersion())?.id ?? null);
    if (v.yaml) { out(x.intentYaml); return 0; }
    const bundles = await store.listBundleHashes(id);
    if (v.json) { out(`${JSON.stringify({ ...x, bundles })}\n`); return 0; }
    out(`version ${x.id}${x.restores !== null ? ` (restores ${x.restores})` : ''}\n` +
      `parent:  ${x.parent ?? '-'}\nauthor:  ${x.author}\ncreated: ${iso(x.createdAt)}\nmessage: ${x.message}\n` +
      `intent:  sha256 ${x.intentHash}\nverified: ${x.report === null ? 'no' : 'yes'}\n` +
      `inventory: ${x.inventory === null ? 'not recorded' : `${(x.inventory as { edges?: unknown[] }).edges?.length ?? 0} edges from ${x.inventorySource ?? '?'}`}\n\n`);
    out(table([['EDGE', 'BUNDLE HASH'], ...bundles.map((b) => [b.edge, b.hash])]));
    return 0;
  });
}

async function diff(a: number, b: number, v: Values): Promise<number> {
  return withStore(v, async (store) => {
    const d = await diffVersions(store, a, b);
    if (v.json) { out(`${JSON.stringify(d)}\n`); return 0; }
    if (d.changes.length) out(table(changeRows(d.changes)));
    else out(`no semantic change between versions ${a} and ${b}\n`);
    out(`\nversion ${a} → ${b} ${d.blast.summary}\n`);
    const inv = d.inventory;
    if (inv && (inv.added.length || inv.removed.length || inv.changed.length)) {
      out(`inventory: ${[inv.added.length && `added ${inv.added.join(', ')}`, inv.removed.length && `removed ${inv.removed.join(', ')}`,
        ...inv.changed.map((c) => `${c.edge} ${c.fields.join(', ')}`)].filter(Boolean).join('; ')}\n`);
    }
    return 0;
  });
}

async function rollback(id: number, v: Values): Promise<number> {
  try {
    return await withStore(v, async (store) => {
      const inv = await inventoryFor(v, store);
      const key = loadOrCreateSigningKey(stateFiles(v.state ?? DEFAULT_STATE_DIR).root);
      const r = await rollbackTo(store, id, {
        author: v.author ?? cliUser(), message: v.message, inventory: inv.inventory, inventoryFile: inv.file,
        signingKey: key.privateKey, audit: { actor: actor() },
      });
      const from = r.version.parent;
      const blast = r.blast;
      if (v.json) out(`${JSON.stringify({ version: r.version.id, restores: id, from, blast })}\n`);
      else out(`version ${r.version.id} restores version ${id}${blast ? `; ${blast.summary} since version ${from}` : ''}\n`);
      return 0;
    });
  } catch (e) {
    if (isInputError(e)) await auditFailure(v, 'intent.rollback', `version:${id}`, e);
    throw e;
  }
}

/** `patronus intent …`; returns the exit code. */
export async function runIntent(argv: string[]): Promise<number> {
  try {
    const { values: v, positionals: p } = parse(argv);
    if (v.help) { out(INTENT_USAGE); return 0; }
    const [sub, ...args] = p;
    switch (sub) {
      case 'push': if (!args[0]) throw new UsageError('intent push: missing FILE'); return await push(args[0], v);
      case 'list': return await list(v);
      case 'show': return await show(versionArg(args[0], 'intent show'), v);
      case 'diff': return await diff(versionArg(args[0], 'intent diff'), versionArg(args[1], 'intent diff'), v);
      case 'rollback': return await rollback(versionArg(args[0], 'intent rollback'), v);
      default: throw new UsageError(sub ? `unknown sub-command "${sub}" (known: push, list, show, diff, rollback)` : 'missing sub-command');
    }
  } catch (e) {
    if (isUsageError(e)) {
      process.stderr.write(`patronus intent: ${(e as Error).message}\n${INTENT_USAGE}`);
      return 2;
    }
    throw e;
  }
}

/** `patronus token …`; returns the exit code. The secret is printed once and never stored. */
export async function runToken(argv: string[]): Promise<number> {
  try {
    const { values: v, positionals: p } = parse(argv);
    if (v.help) { out(TOKEN_USAGE); return 0; }
    const [sub, name] = p;
    switch (sub) {
      case 'create': {
        if (!name) throw new UsageError('token create: missing NAME');
        if (!isRole(v.role)) throw new InputError('--role', [{ path: [], message: `expected admin, operator or viewer, got ${v.role === undefined ? 'nothing' : `"${v.role}"`}` }]);
        const role: Role = v.role;
        return await withStore(v, async (store) => {
          try {
            const { token } = await createOperatorToken(store, name, role, { actor: actor() });
            out(v.json ? `${JSON.stringify({ name, role, token })}\n` : `${token}\n`);
            process.stderr.write(`token "${name}" (${role}) created; it is shown only now\n`);
            return 0;
          } catch (e) {
            if (isStoreConflictError(e)) throw new InputError('token create', [{ path: [], message: `a token named "${name}" exists; delete it first or pick another name` }]);
            throw e;
          }
        });
      }
      case 'list':
        return await withStore(v, async (store) => {
          const rows = (await store.listOperatorTokens()).map(({ tokenHash: _h, ...r }) => r);
          if (v.json) out(`${JSON.stringify(rows)}\n`);
          else out(table([['NAME', 'ROLE', 'CREATED'], ...rows.map((r) => [r.name, r.role, iso(r.createdAt)])]));
          return 0;
        });
      case 'delete':
        if (!name) throw new UsageError('token delete: missing NAME');
        return await withStore(v, async (store) => {
          const ok = await store.tx(async (tx) => {
            const gone = await tx.deleteOperatorToken(name);
            if (gone) await tx.appendAudit({ actor: actor(), action: 'token.delete', target: `token:${name}`, outcome: 'ok' });
            return gone;
          });
          if (!ok) throw new InputError('token delete', [{ path: [], message: `no token named "${name}"` }]);
          out(`token "${name}" deleted\n`);
          return 0;
        });
      default: throw new UsageError(sub ? `unknown sub-command "${sub}" (known: create, list, delete)` : 'missing sub-command');
    }
  } catch (e) {
    if (isUsageError(e)) {
      process.stderr.write(`patronus token: ${(e as Error).message}\n${TOKEN_USAGE}`);
      return 2;
    }
    throw e;
  }
}

registerCommand({ name: 'intent', summary: 'intent versions: push, list, show, diff (semantic + blast radius), rollback', run: runIntent });
registerCommand({ name: 'token', summary: 'operator API tokens: create (admin/operator/viewer), list, delete', run: runToken });

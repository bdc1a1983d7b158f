/**
 * A controller inside a scenario's lab (`controller: true`): `patronus controller serve` (dist/patronus.js) in
 * the lab's internal namespace `pt.<lab>._ctl` (so `twin down` and a crashed runner's clean-up remove it with
 * the lab), its state beside the run file, and a management network — a bridge `ptmgmt` in that namespace,
 * one veth to every edge (`ptmgmt` in the edge, `m<i>` on the bridge), 198.19.0.0/16 (RFC 2544 benchmark space,
 * which no lab may use then). Each edge's agent is restarted with `--controller` and a one-time enrolment
 * token, enrols, and pulls the intent pushed as a controller version (signed bundles) instead of taking
 * bundles over its local socket; it reports health to the controller, which writes it to its analytics store.
 *
 * `setReachable(false)` takes every bridge port down (the edges see their management link lose carrier; no
 * process is touched), `true` brings them up again. `finish()` stops the controller (its analytics store is
 * flushed on SIGTERM) and returns every health report the store holds, for the run file's `controller_health`.
 *
 * Example:
 *   const c = await LabController.start(provider, lab, edges, { dir: 'runs/x.controller', log });
 *   await c.push(prepared.bundles, intentFile);      // resolves when every edge acked its bundle
 *   await c.setReachable(false); …; await c.setReachable(true);
 *   const rows = await c.finish();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { packageRoot, signBundle } from '../dataplane/index.ts';
import type { CompiledBundle } from '../controller/index.ts';
import { openStore, stateFiles, type Store } from '../controller/store/index.ts';
import { CertificateAuthority } from '../controller/pki/index.ts';
import { createEnrolmentToken, setDesired } from '../controller/edgeapi/index.ts';
import { loadOrCreateSigningKey } from '../controller/versions/index.ts';
import { nsName, type TwinProvider } from '../twin/index.ts';
import { nodeDir } from '../twin/providers/netns/names.ts';
import { runOk } from '../twin/providers/netns/sh.ts';

/** The controller's namespace in a lab (internal: never shown as a node). */
export const controllerNs = (lab: string) => nsName(lab, '_ctl');
/** The management interface inside every edge (its drops are the harness's, not the scenario's). */
export const MGMT_IF = 'ptmgmt';
const CTL_ADDR = '198.19.0.1';
const PORT = 8443;
/** Health report interval of the twin's edges under a controller, ms. */
export const TWIN_HEALTH_INTERVAL_MS = 500;
const mgmtAddr = (i: number) => `198.19.${1 + Math.floor(i / 250)}.${1 + (i % 250)}`;

/** One health report as the controller's analytics store holds it (a `controller_health` row without run_id). */
export interface HealthRow { node: string; pid: number | null; seq: number | null; reported_ms: number; received_ms: number; healthy: boolean | null; paths_up: number | null; paths_total: number | null }

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class LabController {
  private version: number | null = null;
  private constructor(private readonly p: TwinProvider, readonly lab: string, readonly edges: string[], readonly state: string, private readonly store: Store,
    private readonly child: ChildProcess, private readonly log: (l: string) => void) {}

  /** Management network, controller, enrolment tokens, agents restarted with them; resolves once every edge enrolled. */
  static async start(p: TwinProvider, lab: string, edges: string[], o: { dir: string; log?: (l: string) => void; sites?: Record<string, string> }): Promise<LabController> {
    const log = o.log ?? (() => {});
    const restart = (p as TwinProvider & { restartAgent?: (lab: string, node: string, signal?: 'SIGTERM' | 'SIGKILL') => Promise<void> }).restartAgent;
    if (!restart) throw new Error(`the ${p.name} provider cannot restart agents, so it cannot put them under a controller`);
    if (edges.length > 250 * 250) throw new Error('too many edges for the management network');
    const ns = controllerNs(lab);
    await runOk(['ip', 'netns', 'add', ns]);
    const cmds = ['link set lo up', `link add ${MGMT_IF} type bridge`, `addr add ${CTL_ADDR}/16 dev ${MGMT_IF}`, `link set ${MGMT_IF} up`];
    await runOk(['ip', '-n', ns, '-batch', '-'], { input: cmds.join('\n') + '\n' });
    for (const [i, e] of edges.entries()) {
      await runOk(['ip', 'link', 'add', MGMT_IF, 'netns', nsName(lab, e), 'type', 'veth', 'peer', 'name', `m${i}`, 'netns', ns]);
      await runOk(['ip', '-n', ns, '-batch', '-'], { input: `link set m${i} master ${MGMT_IF}\nlink set m${i} up\n` });
      await runOk(['ip', '-n', nsName(lab, e), '-batch', '-'], { input: `addr add ${mgmtAddr(i)}/16 dev ${MGMT_IF}\nlink set ${MGMT_IF} up\n` });
    }
    // Credentials and tokens before the server starts (it loads the same CA and signing key).
    mkdirSync(o.dir, { recursive: true });
    const files = stateFiles(o.dir);
    const store = await openStore(files.store);
    const ca = await CertificateAuthority.open(files.root);
    loadOrCreateSigningKey(files.root);
    const tokens = new Map<string, string>();
    for (const e of edges) tokens.set(e, await createEnrolmentToken(store, ca, e, { ttlMs: 3_600_000, actor: 'scenario', ...(o.sites?.[e] && { site: o.sites[e] }) }));
    const logFd = openSync(join(files.root, 'serve.log'), 'a');
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, join(packageRoot(), 'dist', 'patronus.js'), 'controller', 'serve', '--state', files.root,
      '--listen', `${CTL_ADDR}:${PORT}`, '--operator-listen', 'none'], { stdio: ['ignore', logFd, logFd] });
    closeSync(logFd);
    const c = new LabController(p, lab, edges, files.root, store, child, log);
    try {
      await c.until('the controller listening', 20_000, async () => readFileSync(join(files.root, 'serve.log'), 'utf8').includes('edge API on') || undefined);
      // Each agent again, now with the controller: same arguments plus the link (a later restartAgent event keeps it).
      await Promise.all(edges.map(async (e) => {
        const argvFile = join(nodeDir(lab, e), 'agent.argv.json');
        const argv = JSON.parse(readFileSync(argvFile, 'utf8')) as string[];
        writeFileSync(argvFile, JSON.stringify([...argv, '--controller', `https://${CTL_ADDR}:${PORT}`, '--enrol-token', tokens.get(e)!,
          '--health-interval', String(TWIN_HEALTH_INTERVAL_MS)]));
        await restart.call(p, lab, e, 'SIGTERM');
      }));
      await c.until('every edge enrolled', 30_000, async () => ((await Promise.all(edges.map(async (e) => (await store.getEdge(e))?.enrolledAt))).every((x) => x) || undefined));
      log(`controller: ${edges.length} edges enrolled at https://${CTL_ADDR}:${PORT} (state ${files.root})`);
      return c;
    } catch (e) {
      await c.finish().catch(() => undefined);
      throw e;
    }
  }

  private async until<T>(what: string, ms: number, f: () => Promise<T | undefined>): Promise<T> {
    for (const end = Date.now() + ms; ; await sleep(200)) {
      if (this.child.exitCode !== null) throw new Error(`controller exited (${this.child.exitCode}) before ${what}: ${this.tail()}`);
      const v = await f().catch(() => undefined);
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms (${this.tail()})`);
    }
  }

  private tail(): string {
    try { return readFileSync(join(this.state, 'serve.log'), 'utf8').trim().split('\n').slice(-3).join(' | '); } catch { return 'no log'; }
  }

  /**
   * The intent's bundles as a new controller version (signed with the controller's key), desired on every
   * edge; resolves when every edge acked exactly its bundle's hash (applied and commit-confirmed).
   */
  async push(bundles: Map<string, CompiledBundle>, intentFile: string | undefined): Promise<void> {
    const key = loadOrCreateSigningKey(this.state).privateKey;
    const yaml = intentFile && existsSync(intentFile) ? readFileSync(intentFile, 'utf8') : '';
    const signed = [...bundles].map(([edge, b]) => ({ edge, hash: b.hash, envelope: signBundle(b.bundle, key) }));
    for (const s of signed) if (s.envelope.hash !== s.hash) throw new Error(`bundle of ${s.edge}: signed hash ${s.envelope.hash} differs from the compiled ${s.hash}`);
    const v = await this.store.insertVersion({ parent: this.version, author: 'scenario', message: `scenario run on ${this.lab}`, intentYaml: yaml,
      intentHash: createHash('sha256').update(yaml).digest('hex') }, signed);
    this.version = v.id;
    await setDesired(this.store, signed.map((s) => s.edge), v.id);
    const t0 = Date.now();
    await this.until(`every edge acked version ${v.id}`, 90_000, async () => {
      const rows = await Promise.all(signed.map(async (s) => (await this.store.getEdge(s.edge))?.appliedHash === s.hash));
      return rows.every(Boolean) || undefined;
    });
    this.log(`controller: version ${v.id} applied and confirmed on ${signed.length} edges in ${Date.now() - t0} ms`);
  }

  /** Every edge's management link up or down (its bridge port; the edge sees carrier go). */
  async setReachable(up: boolean): Promise<void> {
    await runOk(['ip', '-n', controllerNs(this.lab), '-batch', '-'], { input: this.edges.map((_, i) => `link set m${i} ${up ? 'up' : 'down'}\n`).join('') });
  }

  /**
   * Stops the controller (SIGTERM: its analytics store takes the last reports from its log and closes) and
   * reads every edge health report from `analytics.duckdb`. The namespace goes with the lab.
   */
  async finish(): Promise<HealthRow[]> {
    await this.store.close().catch(() => undefined);
    if (this.child.exitCode === null) {
      const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
      this.child.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
      if (this.child.exitCode === null) { this.child.kill('SIGKILL'); throw new Error('controller did not stop within 15 s of SIGTERM'); }
    }
    const file = stateFiles(this.state).analytics;
    if (!existsSync(file)) return [];
    const db = await DuckDBInstance.create(file, { access_mode: 'READ_ONLY' });
    const c = await db.connect();
    try {
      const r = await c.runAndReadAll(`select edge as node, try_cast(json_extract_string(health, '$.pid') as integer) as pid, try_cast(json_extract_string(health, '$.seq') as bigint) as seq,
          epoch_ms(try_cast(reported_at as timestamptz)) as reported_ms, received_ms, healthy, paths_up, paths_total from edge_health order by edge, received_ms, seq`);
      return (r.getRowObjectsJS() as Record<string, unknown>[]).map((x) => ({
        node: String(x.node), pid: x.pid == null ? null : Number(x.pid), seq: x.seq == null ? null : Number(x.seq), reported_ms: Number(x.reported_ms),
        received_ms: Number(x.received_ms), healthy: x.healthy == null ? null : Boolean(x.healthy), paths_up: x.paths_up == null ? null : Number(x.paths_up),
        paths_total: x.paths_total == null ? null : Number(x.paths_total),
      }));
    } finally {
      c.closeSync();
      db.closeSync();
    }
  }
}

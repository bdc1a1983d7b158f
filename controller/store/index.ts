/**
 * controller/store — the controller's durable state behind one async {@link Store} interface: intent versions
 * with their signed bundles, edges, enrolment tokens, certificates, operator tokens, the audit log and
 * promotions. The embedded implementation is SQLite (better-sqlite3, WAL, foreign keys, schema migrations);
 * the interface is async so a PostgreSQL implementation can serve several controller replicas later.
 *
 * @example
 * const store = await openStore('.patronus/controller/store.db'); // or ':memory:' in tests
 * const v = await store.latestVersion();
 * await store.close();
 */
export * from './types.ts';
export * from './errors.ts';
export { CERT_CACHE_CHECK_MS, openStore, STORE_SCHEMA_VERSION, type OpenStoreOptions } from './sqlite.ts';
export { DEFAULT_STATE_DIR, stateFiles } from './state.ts';

import { openStore } from './sqlite.ts';
import { stateFiles } from './state.ts';
import type { Store } from './types.ts';

/**
 * Opens the store of controller state directory `dir` (default .patronus/controller), runs `fn` on it and
 * closes it whatever `fn` does — the one-shot access of CLI commands that work without a running controller.
 * @example const latest = await withStateStore(undefined, (s) => s.latestVersion());
 */
export async function withStateStore<T>(dir: string | undefined, fn: (s: Store) => Promise<T>): Promise<T> {
  const store = await openStore(stateFiles(dir).store);
  try { return await fn(store); } finally { await store.close(); }
}

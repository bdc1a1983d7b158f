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
export { openStore, STORE_SCHEMA_VERSION, type OpenStoreOptions } from './sqlite.ts';
export { DEFAULT_STATE_DIR, stateFiles } from './state.ts';

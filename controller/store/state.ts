/** The controller state directory (`--state DIR`) and the files inside it. */
import { join, resolve } from 'node:path';

/** Default `--state` directory, relative to the working directory. */
export const DEFAULT_STATE_DIR = '.patronus/controller';

/**
 * Paths inside a controller state directory.
 * @example stateFiles('.patronus/controller').store // '/abs/.patronus/controller/store.db'
 */
export function stateFiles(dir: string = DEFAULT_STATE_DIR) {
  const root = resolve(dir);
  return {
    root,
    /** The SQLite store. */
    store: join(root, 'store.db'),
    /** The bundle-signing key (controller/versions/keys.ts). */
    signingKey: join(root, 'signing-key.pem'),
    /** The controller CA (controller/pki). */
    ca: join(root, 'ca'),
    /** The cumulative analytics store (controller/analytics; written only by `controller serve`). */
    analytics: join(root, 'analytics.duckdb'),
    /** The write-ahead log of edge health reports in front of the analytics store. */
    telemetryWal: join(root, 'telemetry.wal'),
    /** `{pid, url}` of the running `controller serve`'s operator API, so CLIs can reach it; removed on exit. */
    operatorEndpoint: join(root, 'operator-api.json'),
  };
}

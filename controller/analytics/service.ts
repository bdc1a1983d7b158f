/**
 * The controller's analytics, as `patronus controller serve` runs them: the store opened as the single
 * writer, the telemetry write-ahead log in front of it, and a once-a-second tick that moves the log into the
 * store and copies new promotion transitions.
 */
import { join } from 'node:path';
import type { Store } from '../store/index.ts';
import { AnalyticsStore, type ImportResult } from './store.ts';
import { TelemetryLog, type HealthReport } from './telemetry.ts';
import { syncPromotions } from './promotions.ts';

/** Options of {@link startAnalytics}. */
export interface AnalyticsServiceOptions {
  /** The DuckDB file (stateFiles(dir).analytics). */
  file: string;
  /** The controller's SQLite store (promotion transitions come from its audit log). */
  store: Store;
  /** The telemetry write-ahead log. Default `<dir of file>/telemetry.wal`. */
  walFile?: string;
  /** Tick interval, ms. Default 1000. */
  flushMs?: number;
  /** Bound of the write-ahead log, bytes (TelemetryLog). Default 256 MiB. */
  maxLogBytes?: number;
  log?: (line: string) => void;
}

/** Running analytics of a controller. */
export interface ControllerAnalytics {
  analytics: AnalyticsStore;
  telemetry: TelemetryLog;
  /** For the edge API's `healthSink`: appends to the write-ahead log (sync; throws when it is full). */
  healthSink(report: HealthReport): void;
  /** Imports a run file (see AnalyticsStore.importRun). */
  importRun(file: string, source: string, displayName?: string): Promise<ImportResult>;
  /** One tick now: the log into the store, new promotion transitions copied. */
  flush(): Promise<void>;
  /** Stops the tick, flushes a last time and closes the store. */
  close(): Promise<void>;
}

/**
 * Opens the analytics store as the single writer, replays what an earlier process left in the telemetry log,
 * and starts the tick.
 * @throws AnalyticsLockedError when another process holds the store.
 * @example
 * const a = await startAnalytics({ file: files.analytics, store });
 * const api = await startEdgeApi({ ..., healthSink: a.healthSink });
 */
export async function startAnalytics(o: AnalyticsServiceOptions): Promise<ControllerAnalytics> {
  const log = o.log ?? ((l: string) => process.stderr.write(`patronus analytics: ${l}\n`));
  const analytics = await AnalyticsStore.open(o.file);
  let telemetry: TelemetryLog;
  try {
    telemetry = await TelemetryLog.open(analytics, o.walFile ?? join(o.file, '..', 'telemetry.wal'), { maxLogBytes: o.maxLogBytes, log });
  } catch (e) {
    await analytics.close();
    throw e;
  }
  let ticking: Promise<void> | null = null;
  const tick = () => {
    ticking ??= (async () => {
      try { await telemetry.flush(); } catch (e) { log(`telemetry flush failed (kept in the log, retried): ${(e as Error).message}`); }
      try { await syncPromotions(o.store, analytics); } catch (e) { log(`promotion sync failed (retried): ${(e as Error).message}`); }
    })().finally(() => { ticking = null; });
    return ticking;
  };
  await tick();
  const timer = setInterval(() => void tick(), o.flushMs ?? 1000);
  timer.unref();
  return {
    analytics, telemetry,
    healthSink: (r) => { telemetry.append(r); },
    importRun: (file, source, displayName) => analytics.importRun(file, source, displayName),
    flush: async () => { await ticking; await tick(); },
    close: async () => {
      clearInterval(timer);
      await ticking;
      await tick();
      await analytics.close();
    },
  };
}

/**
 * controller/analytics — the controller's cumulative DuckDB analytics store (docs/telemetry.md, "Controller
 * analytics store"). The controller process is its only writer: it imports scenario run files (idempotent by
 * run id, one transaction per file), appends edge health reports through a write-ahead log (telemetry.ts)
 * and copies promotion transitions from the audit log. Other processes read through the operator API's
 * analytics routes (http.ts) or open the file read-only while no controller runs (`patronus analytics`).
 */
export {
  AnalyticsStore, AnalyticsQueryError, AnalyticsLockedError, isAnalyticsQueryError, isAnalyticsLockedError, DEFAULT_MAX_ROWS,
  type AnalyticsRow, type AnalyticsOpenOptions, type ImportResult, type QueryResult,
} from './store.ts';
export { ANALYTICS_TABLES, CONTROLLER_TABLES, RUN_TABLE_NAMES, type Columns, type ControllerTable } from './schema.ts';
export { TelemetryLog, TelemetryBackpressureError, healthRows, type HealthReport, type TelemetryLogOptions } from './telemetry.ts';
export { syncPromotions, PROMOTION_ACTIONS } from './promotions.ts';
export { startAnalytics, type ControllerAnalytics, type AnalyticsServiceOptions } from './service.ts';
export { withAnalyticsRoutes, ANALYTICS_API_PREFIX, MAX_UPLOAD_BYTES } from './http.ts';

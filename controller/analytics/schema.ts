/**
 * The tables of the controller's cumulative analytics store (docs/telemetry.md, "Controller analytics store"):
 * every scenario-run table exactly as a run file declares it (scenarios/store.ts `TABLES`, so a run imports
 * column by column), plus the controller's own tables — imported runs, edge health reports and their paths,
 * BGP neighbours and telemetry records, and promotion transitions.
 */
// store.ts directly: scenarios/index.ts pulls in the runner, which imports the controller (a cycle).
import { TABLES as RUN_TABLES, type ColumnType } from '../../scenarios/store.ts';

/** One table: ordered [column, type]. */
export type Columns = readonly (readonly [string, ColumnType])[];

/**
 * The controller's own tables. Times `*_ms` here are Unix milliseconds (wall clock of the controller unless
 * named otherwise); `seq` is the write-ahead-log sequence of the health report a row came from.
 */
export const CONTROLLER_TABLES = {
  run_imports: [['run_id', 'VARCHAR'], ['scenario', 'VARCHAR'], ['source', 'VARCHAR'], ['file', 'VARCHAR'], ['imported_ms', 'BIGINT'], ['rows', 'BIGINT']],
  edge_health: [['seq', 'BIGINT'], ['edge', 'VARCHAR'], ['received_ms', 'BIGINT'], ['reported_at', 'VARCHAR'], ['healthy', 'BOOLEAN'], ['reason', 'VARCHAR'],
    ['sla_compliance', 'DOUBLE'], ['bundle_hash', 'VARCHAR'], ['bundle_source', 'VARCHAR'], ['commit_ok', 'BOOLEAN'], ['last_error', 'VARCHAR'],
    ['paths_total', 'INTEGER'], ['paths_up', 'INTEGER'], ['paths_down', 'INTEGER'], ['bgp_total', 'INTEGER'], ['bgp_established', 'INTEGER'], ['health', 'VARCHAR']],
  edge_paths: [['seq', 'BIGINT'], ['edge', 'VARCHAR'], ['received_ms', 'BIGINT'], ['path_id', 'INTEGER'], ['peer', 'VARCHAR'], ['transport', 'VARCHAR'],
    ['state', 'VARCHAR'], ['rtt_ms', 'DOUBLE'], ['loss', 'DOUBLE'], ['compliant', 'VARCHAR']],
  edge_bgp: [['seq', 'BIGINT'], ['edge', 'VARCHAR'], ['received_ms', 'BIGINT'], ['address', 'VARCHAR'], ['asn', 'BIGINT'], ['state', 'VARCHAR']],
  edge_telemetry: [['seq', 'BIGINT'], ['edge', 'VARCHAR'], ['received_ms', 'BIGINT'], ['idx', 'INTEGER'], ['kind', 'VARCHAR'], ['record', 'VARCHAR']],
  promotion_events: [['audit_id', 'BIGINT'], ['at_ms', 'BIGINT'], ['promotion_id', 'VARCHAR'], ['version', 'BIGINT'], ['from_version', 'BIGINT'],
    ['action', 'VARCHAR'], ['status', 'VARCHAR'], ['outcome', 'VARCHAR'], ['actor', 'VARCHAR'], ['detail', 'VARCHAR']],
} as const satisfies Record<string, Columns>;

/** Every table of the analytics store: the run tables, then the controller's. */
export const ANALYTICS_TABLES: Record<string, Columns> = { ...RUN_TABLES, ...CONTROLLER_TABLES };

/** Names of the scenario-run tables (those a run file brings). */
export const RUN_TABLE_NAMES = Object.keys(RUN_TABLES) as (keyof typeof RUN_TABLES)[];

export type ControllerTable = keyof typeof CONTROLLER_TABLES;

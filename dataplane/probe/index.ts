/**
 * probe/ — active path probing (BFD/TWAMP-light style UDP probes) and passive measurement, and the state of
 * each path built from them. codec.ts is the wire format, stats.ts the per-path measurements, path-state.ts
 * up/degraded/down with timeouts, hold-down and damping, prober.ts and responder.ts the runtime over UDP
 * sockets, cli.ts a stand-alone tool. Clock and timers are injected (clock.ts) so hours replay in ms.
 * steer/ consumes {@link PathView}s from here; nothing here knows about steering.
 */
export * from './codec.ts';
export * from './clock.ts';
export { PathStats, DEFAULT_STATS, seqDiff, wilsonLower, type StatsOptions, type PassiveSample, type PathMetrics } from './stats.ts';
export {
  PathMonitor, monitorConfig, DEFAULT_MONITOR, DEFAULT_DAMPING,
  type MonitorConfig, type DampingConfig, type PathEvent, type PathView, type PathStateName, type SlaBounds,
} from './path-state.ts';
export { Prober, defaultPathKey, budgetIntervalMs, probeBits, dgramSockets, DEFAULT_BUDGET_BPS, PROBE_LOST, PROBE_LATE, PROBE_REORDERED, type ProbeRecorder, type ProberOptions, type MonitorSettings, type OpenSocket, type ProbeSocket } from './prober.ts';
export { Responder, type ResponderOptions } from './responder.ts';

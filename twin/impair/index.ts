/**
 * twin/impair — WAN impairment without netem. Each impaired (or impairable) link of a netns lab runs
 * through a hidden link namespace whose pt-delayline (twin/native, C) bridges the two sides with
 * AF_PACKET: per direction delay, order-keeping jitter, seeded uniform or Gilbert–Elliott loss, down, and
 * rate with buffer depth as a TBF qdisc on its egress veth. This module holds the parameter model, the
 * control client, trace parsing, the netns glue, raw-frame probes and calibration.
 */
export * from './params.ts';
export * from './control.ts';
export * from './trace.ts';
export * from './probe.ts';
export { nativeBin, linkSeed, startDelayLine } from './delayline.ts';
export { startLabDelayLines, delayLineOf, hasNetem, netemArgs } from './netns.ts';
export { calibrateLab, formatMetric, type CalibrationRow, type CalibrateOptions } from './calibrate.ts';

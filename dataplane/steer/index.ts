/**
 * steer/ — turns path states (from probe/) and the bundle's rules and SLA classes into a steering table
 * {segment, appClass, site → pathIds, mode} plus change events. score.ts rates a path, policy.ts holds the
 * hysteresis tuning and the policy checks, steer.ts decides per strategy, flows.ts says what happens to
 * existing flows on a switch. Pure logic: time is passed in, so hours of decisions replay in milliseconds.
 */
export { scorePath, type ScoreInput } from './score.ts';
export { SteerPolicySpec, DEFAULT_STEER_POLICY, loadSteerPolicy, checkSteerInput, type SteerPolicy } from './policy.ts';
export { Steerer, type SteerInput, type SteerRule, type SteeringEntry, type SteerEvent, type SteerMode, type Strategy, type SlaClass } from './steer.ts';
export { FlowTable, pickPath, type FlowMove } from './flows.ts';

/**
 * dataplane/ — the edge agent, one program for twin nodes and real edges. It never imports twin/ or
 * controller/: an agent cannot know whether it is emulated. It owns the bundle schema (its input contract)
 * and the inventory schema (what an edge reports about itself); the controller's compiler imports both.
 * Sub-folders: agent/ (the `patronus edge` process), bundle/, and later xdp/, probe/, steer/, bgp/, wanopt/.
 */
export * from './validate.ts';
export * from './units.ts';
export * from './net.ts';
export * from './inventory.ts';
export * from './bundle/index.ts';
export * from './agent/index.ts';
export {
  ControllerClient, ControllerError, commitHealth, localInventory, loadDeclaredInventory, DeclaredInventory,
  type ControlledAgent, type ControllerClientOptions, type CommitResult,
} from './agent/controller-client.ts';
export * as wanopt from './wanopt/index.ts';
export { packageRoot } from './paths.ts';

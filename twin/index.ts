/**
 * twin/ — turns a lab (the physical network to emulate) into a running emulation. Providers sit behind one
 * interface in a registry: netns (the embedded default), mininet and containerlab. The twin imports
 * dataplane/ only to start agents as processes and knows nothing of promotion.
 */
import { registerProvider } from './registry.ts';
import { NetnsProvider } from './providers/netns/index.ts';
import { ContainerlabProvider } from './providers/containerlab/index.ts';
import { MininetProvider } from './providers/mininet/index.ts';

registerProvider('netns', () => new NetnsProvider());
registerProvider('containerlab', () => new ContainerlabProvider());
registerProvider('mininet', () => new MininetProvider());

export * from './lab/index.ts';
export * from './provider.ts';
export { getProvider, providerNames, registerProvider } from './registry.ts';
export { NetnsProvider, planLab, nsName, parseNsName, routerSocket, natRules } from './providers/netns/index.ts';
export { ContainerlabProvider, clabTopology, exportClab, netemScript } from './providers/containerlab/index.ts';
export { MininetProvider } from './providers/mininet/index.ts';

/**
 * twin/ — turns a lab (the physical network to emulate) into a running emulation. Providers sit behind one
 * interface in a registry: netns (the embedded default), later mininet and containerlab. The twin imports
 * dataplane/ only to start agents as processes and knows nothing of promotion.
 */
import { registerProvider } from './registry.ts';
import { NetnsProvider } from './providers/netns/index.ts';

registerProvider('netns', () => new NetnsProvider());

export * from './lab/index.ts';
export * from './provider.ts';
export { getProvider, providerNames, registerProvider } from './registry.ts';
export { NetnsProvider, planLab, nsName, parseNsName, routerSocket } from './providers/netns/index.ts';

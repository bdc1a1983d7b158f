/**
 * twin/ — turns a lab (the physical network to emulate) into a running emulation. Providers sit behind one
 * interface in a registry: netns (the embedded default), later mininet and containerlab. The twin imports
 * dataplane/ only to start agents as processes and knows nothing of promotion.
 */
export {};

/**
 * The containerlab provider: a lab exported as a containerlab topology (linux nodes running the Patronus
 * node image, veth links, exec lists doing what the netns provider does with ip/nft/daemons) plus a
 * `containerlab tools netem` script for impairments; deploy shells out to the containerlab CLI when it is
 * installed. The same export feeds Clabernetes for multi-host twins on Kubernetes.
 */
export { clabTopology, exportClab, netemScript, NODE_IMAGE, CLAB_PREFIX, type ClabExportOptions, type ExportedFile } from './export.ts';
export { ContainerlabProvider, onPath } from './provider.ts';

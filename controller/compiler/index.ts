/**
 * controller/compiler — inventory + resolved intent → one bundle per edge (dataplane/bundle's schema),
 * content-addressed. attach.ts binds inventory edges and interfaces to intent sites, transports and
 * segments; topology.ts decides which sites peer; paths.ts, routes.ts and classifier.ts build the parts of
 * a bundle; compile.ts assembles and validates them.
 */
export { compile, type CompileOptions, type CompileResult, type CompiledBundle } from './compile.ts';
export { compatible, peering, type Peering } from './topology.ts';

/**
 * Loader of the WAN-opt N-API addon (`native/build/Release/patronus_wanopt.node`, built by `native/Makefile`
 * from scripts/build.mjs). Loaded lazily; {@link wanoptAddon} returns undefined when it is not built so that
 * callers fall back to the pure-JS chunker (identical cut points, see chunker.ts). `PATRONUS_WANOPT_ADDON`
 * names an explicit .node file. Internal to dataplane/wanopt.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's exports (contracts in native/src/addon.cc). */
export interface WanoptAddon {
  chunk(buf: Uint8Array, min: number, avg: number, max: number, final: boolean, hash: boolean): { cuts: Uint32Array; digests?: Buffer; consumed: number };
  sha256Ranges(buf: Uint8Array, cuts: Uint32Array): Buffer;
  gearTable(): Uint32Array;
  transparentListen(host: string, port: number, backlog: number, netns?: string): number;
  tunOpen(name: string): { fd: number; name: string };
  tunWatch(fd: number, maxLen: number, onPackets: (err: Error | null, packets?: Buffer[]) => void): number;
  tunUnwatch(id: number): void;
}

const here = dirname(fileURLToPath(import.meta.url));
// From source (dataplane/wanopt/) and from the esbuild bundles in dist/.
const candidates = [join(here, 'native', 'build', 'Release', 'patronus_wanopt.node'), resolve(here, '..', 'dataplane', 'wanopt', 'native', 'build', 'Release', 'patronus_wanopt.node')];

let cached: WanoptAddon | null | undefined;

/** Path of the addon file {@link wanoptAddon} loads, or undefined when none is built. */
export function wanoptAddonPath(): string | undefined {
  return process.env.PATRONUS_WANOPT_ADDON ?? candidates.find((p) => existsSync(p));
}

/** The loaded addon, or undefined when it is not built (`PATRONUS_WANOPT_NO_ADDON=1` forces that). */
export function wanoptAddon(): WanoptAddon | undefined {
  if (cached !== undefined) return cached ?? undefined;
  const path = process.env.PATRONUS_WANOPT_NO_ADDON === '1' ? undefined : wanoptAddonPath();
  cached = path ? (createRequire(import.meta.url)(path) as WanoptAddon) : null;
  return cached ?? undefined;
}

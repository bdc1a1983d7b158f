/**
 * Loader of the libbpf N-API addon (`addon/build/Release/patronus_xdp.node`, built by `addon/Makefile`
 * from scripts/build.mjs). Loaded lazily on first use so that importing dataplane/xdp never fails on a
 * machine without the addon; the first call then throws a {@link BpfError}-shaped error that says how
 * to build it. `PATRONUS_XDP_ADDON` names an explicit .node file. Internal to dataplane/xdp.
 */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Map or program description as the addon returns it. */
export interface NativeMapDesc { name: string; type: number; keySize: number; valueSize: number; maxEntries: number; fd: number }
export interface NativeProgDesc { name: string; section: string; type: number; fd: number }

export interface NativeObjectHandle {
  load(): void;
  programs(): NativeProgDesc[];
  maps(): NativeMapDesc[];
  close(): void;
  rodataVars(): { name: string; size: number }[];
  setRodata(name: string, bytes: Buffer): void;
  readonly closed: boolean;
  readonly loaded: boolean;
}
export interface NativeFdHandle { close(): void; readonly fd: number }

/** The addon's exports (see addon/src/*.cc for each function's contract). */
export interface Addon {
  NativeObject: new (path: string, pinRoot?: string) => NativeObjectHandle;
  NativeFd: new (path: string) => NativeFdHandle;
  mapInfo(fd: number): { name: string; type: number; keySize: number; valueSize: number; maxEntries: number; id: number; flags: number };
  mapLookup(fd: number, key: Buffer, keySize: number, valueBytes: number): Buffer | undefined;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags: number, keySize: number, valueBytes: number): void;
  mapDelete(fd: number, key: Buffer, keySize: number): boolean;
  mapKeys(fd: number): Buffer;
  mapLookupBatch(fd: number): { keys: Buffer; values: Buffer; count: number } | null;
  possibleCpus(): number;
  mapTypeName(type: number): string;
  ifindex(ifname: string, netns?: string): number;
  xdpAttach(progFd: number, ifname: string, flags: number, netns?: string): void;
  xdpDetach(ifname: string, flags: number, netns: string | undefined, oldProgFd: number): void;
  xdpQuery(ifname: string, netns?: string): { attachMode: number; progId: number; drvProgId: number; skbProgId: number; hwProgId: number };
  tcAttach(progFd: number, ifname: string, ingress: boolean, priority: number, handle: number, netns: string | undefined, replace: boolean): number;
  tcDetach(ifname: string, ingress: boolean, priority: number, handle: number, netns?: string): void;
  tcQuery(ifname: string, ingress: boolean, priority: number, handle: number, netns?: string): number;
  testRun(progFd: number, data: Buffer, repeat: number, ctx: Buffer | null, dataOutSize: number, netns?: string): { retval: number; data: Buffer; durationNs: number };
  progInfo(fd: number): { name: string; type: number; id: number; tag: string };
  objPin(fd: number, path: string): void;
  objUnpin(path: string): void;
  isBpffs(path: string): boolean;
  mountBpffs(path: string): void;
}

const here = dirname(fileURLToPath(import.meta.url));
// From source (dataplane/xdp/) and from the esbuild bundles in dist/.
const candidates = [join(here, 'addon', 'build', 'Release'), resolve(here, '..', 'dataplane', 'xdp', 'addon', 'build', 'Release')];

let cached: Addon | undefined;

/** Path of the addon file that {@link addon} would load, or undefined when none is built. */
export function addonPath(): string | undefined {
  const env = process.env.PATRONUS_XDP_ADDON;
  if (env) return env;
  for (const dir of candidates) {
    if (!existsSync(dir)) continue;
    const f = readdirSync(dir).find((n) => n.endsWith('.node'));
    if (f) return join(dir, f);
  }
  return undefined;
}

/** The loaded addon; throws an error with errno ENOENT and call 'load addon' when it is not built. */
export function addon(): Addon {
  if (cached) return cached;
  const path = addonPath();
  if (!path) {
    throw Object.assign(new Error('load addon: the libbpf addon is not built (errno 2): run `npm run build` (make -C dataplane/xdp/addon)'), {
      errno: 2, call: 'load addon', detail: '', libbpfLog: '',
    });
  }
  cached = createRequire(import.meta.url)(path) as Addon;
  return cached;
}

/**
 * dataplane/xdp — BPF from TypeScript: a libbpf 1.1 N-API addon (addon/) behind typed handles.
 *
 * - {@link BpfObject}: open an ELF object (`clang -target bpf` output), set its load-time constants, load
 *   it (verifier), find its programs and maps, close it. Closing (or garbage collection) frees every fd
 *   the object owns.
 * - {@link BpfProgram}: attach/detach XDP (native or generic) and tc clsact ingress/egress on an interface,
 *   optionally inside a named network namespace (/run/netns/<name>: the calling thread enters it for the
 *   call and always returns), pin, and BPF_PROG_TEST_RUN.
 * - {@link BpfMap}: lookup/update/delete, key iteration, batch dump, per-CPU values, pins.
 * - Every failure is a {@link BpfError} carrying errno, the libbpf/syscall name and libbpf's own message
 *   (for a verifier rejection: the verifier log, shortened in `message`, whole in `log`).
 * - layout.ts describes the C structs of the shared header; typed.ts wraps a map with key/value layouts;
 *   layout-check.ts compares layouts with the header through the C compiler and BTF.
 *
 * @example
 *   const obj = BpfObject.open('bpf/build/lan_ingress.bpf.o', { pinRoot: '/sys/fs/bpf/patronus/lab1' });
 *   obj.setConst('cfg_overlay_port', 4797);
 *   obj.load();
 *   obj.program('lan_ingress').attachXdp('lan0', { mode: 'native', netns: 'pt.lab1.edge1' });
 *   const counters = obj.map('pt_counters');
 *   for (const [k, v] of counters.entries()) console.log(k, counters.perCpuValues(v));
 *   obj.close();
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { bpfError, native } from './errors.ts';
import { scalar } from './layout.ts';
import { dirname } from 'node:path';
import { addon, type NativeFdHandle, type NativeObjectHandle } from './native.ts';

export { addonPath } from './native.ts';
export { BpfError, isBpfError } from './errors.ts';
export * from './layout.ts';
export * from './typed.ts';
export * from './layout-check.ts';

/** Number of possible CPUs (`/sys/devices/system/cpu/possible`): the per-CPU value count of per-CPU maps. */
export function possibleCpus(): number {
  return native(() => addon().possibleCpus());
}

/**
 * Index of interface `ifname`, looked up inside network namespace `netns` (a name under /run/netns) when
 * given. Throws BpfError ENODEV for an unknown interface and ENOENT for a missing namespace.
 *
 * @example ifindex('lo') // 1
 */
export function ifindex(ifname: string, netns?: string): number {
  return native(() => addon().ifindex(ifname, netns));
}

/** XDP attach modes: `native` (driver, XDP_FLAGS_DRV_MODE) or `generic` (skb, XDP_FLAGS_SKB_MODE). */
export type XdpMode = 'native' | 'generic';

const XDP_FLAGS_UPDATE_IF_NOEXIST = 1, XDP_FLAGS_SKB_MODE = 2, XDP_FLAGS_DRV_MODE = 4;
const modeFlags = (mode: XdpMode | undefined): number => {
  if (mode === undefined || mode === 'native') return XDP_FLAGS_DRV_MODE;
  if (mode === 'generic') return XDP_FLAGS_SKB_MODE;
  throw bpfError('bpf_xdp_attach', constants.errno.EINVAL, `unknown XDP mode "${String(mode)}" (known: native, generic)`);
};

/** What {@link xdpQuery} reports for an interface: the attach mode and the program ids per mode (0 = none). */
export interface XdpState {
  mode: 'none' | 'native' | 'generic' | 'hw' | 'multi';
  progId: number;
  nativeProgId: number;
  genericProgId: number;
}

/** The XDP programs attached to `ifname` (inside `netns` when given). */
export function xdpQuery(ifname: string, netns?: string): XdpState {
  const q = native(() => addon().xdpQuery(ifname, netns));
  const modes = ['none', 'native', 'generic', 'hw', 'multi'] as const;
  return { mode: modes[q.attachMode] ?? 'multi', progId: q.progId, nativeProgId: q.drvProgId, genericProgId: q.skbProgId };
}

/**
 * Detach whatever XDP program is attached to `ifname` in `mode` (default native) — for clean-up after an
 * agent restart, when the program's handle is gone. {@link BpfProgram.detachXdp} detaches only its own.
 */
export function detachXdp(ifname: string, opts: { mode?: XdpMode; netns?: string } = {}): void {
  native(() => addon().xdpDetach(ifname, modeFlags(opts.mode), opts.netns, -1));
}

/** Where a tc program sits: clsact direction, filter priority and handle (both default 1). */
export interface TcPlace {
  direction: 'ingress' | 'egress';
  netns?: string;
  /** tc filter priority, 1..65535; default 1. */
  priority?: number;
  /** tc filter handle; default 1. */
  handle?: number;
}

function tcPlace(call: string, p: TcPlace): { ingress: boolean; priority: number; handle: number } {
  if (p?.direction !== 'ingress' && p?.direction !== 'egress') {
    throw bpfError(call, constants.errno.EINVAL, `direction must be "ingress" or "egress", got ${JSON.stringify(p?.direction)}`);
  }
  const priority = p.priority ?? 1, handle = p.handle ?? 1;
  if (!Number.isInteger(priority) || priority < 1 || priority > 0xffff) throw bpfError(call, constants.errno.EINVAL, `priority must be 1..65535, got ${priority}`);
  if (!Number.isInteger(handle) || handle < 1 || handle > 0xffffffff) throw bpfError(call, constants.errno.EINVAL, `handle must be a positive 32-bit integer, got ${handle}`);
  return { ingress: p.direction === 'ingress', priority, handle };
}

/** Id of the tc program at `place` on `ifname`, or undefined when none is attached there. */
export function tcQuery(ifname: string, place: TcPlace): number | undefined {
  const t = tcPlace('bpf_tc_query', place);
  const id = native(() => addon().tcQuery(ifname, t.ingress, t.priority, t.handle, place.netns));
  return id || undefined;
}

/**
 * Remove whatever tc program sits at `place` on `ifname` — clean-up after an agent restart, when the
 * program's handle is gone. ENOENT when nothing is there. {@link BpfProgram.detachTc} removes only its own.
 */
export function detachTc(ifname: string, place: TcPlace): void {
  const t = tcPlace('bpf_tc_detach', place);
  native(() => addon().tcDetach(ifname, t.ingress, t.priority, t.handle, place.netns));
}

/** Whether `path` lies on a BPF filesystem. */
export function isBpffs(path: string): boolean {
  return native(() => addon().isBpffs(path));
}

/**
 * Mount a BPF filesystem on `dir` (default /sys/fs/bpf) unless one is there already. Returns true when it
 * mounted one. The mount is left in place: it is the system's standard location, shared with other users.
 */
export function ensureBpffs(dir = '/sys/fs/bpf'): boolean {
  if (isBpffs(dir)) return false;
  native(() => addon().mountBpffs(dir));
  return true;
}

/** mkdir -p of a pin's parent directory, refusing to create anything outside a BPF filesystem. */
function pinParent(call: string, path: string): void {
  const parent = dirname(path);
  let probe = parent;
  while (!existsSync(probe)) probe = dirname(probe);
  if (!isBpffs(probe)) {
    throw bpfError(call, constants.errno.EPERM, `${path}: ${probe} is not on a BPF filesystem (mount one first, e.g. ensureBpffs())`);
  }
  try {
    mkdirSync(parent, { recursive: true });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw bpfError('mkdir', -(err.errno ?? -constants.errno.EIO), `${parent}: ${err.message}`);
  }
}

function pinFd(fd: number, path: string): void {
  pinParent('bpf_obj_pin', path);
  native(() => addon().objPin(fd, path));
}

/** Remove a pin (any pinned program or map); the object lives on while other fds or pins hold it. */
export function unpin(path: string): void {
  native(() => addon().objUnpin(path));
}

/** Options of {@link BpfProgram.testRun}. */
export interface TestRunOptions {
  /** The packet (or skb data) given to the program. */
  data: Buffer;
  /** Runs, default 1; durationNs is the average per run. */
  repeat?: number;
  /** XDP only: `xdp_md.ingress_ifindex` of the run (resolved in `netns` when given). */
  ingressIfindex?: number;
  /** XDP only: `xdp_md.rx_queue_index`, default 0; needs ingressIfindex. */
  rxQueueIndex?: number;
  /** Capacity for the output packet in bytes; default data.length + 256 (room for encapsulation). */
  dataOutSize?: number;
  /** Network namespace of the run (matters for ingressIfindex and for helpers that look up devices). */
  netns?: string;
}

/** Result of {@link BpfProgram.testRun}: the program's return value, output packet and average run time. */
export interface TestRunResult { retval: number; data: Buffer; durationNs: number }

/** XDP verdicts (retval of XDP programs). */
export const XDP = { ABORTED: 0, DROP: 1, PASS: 2, TX: 3, REDIRECT: 4 } as const;
/** tc verdicts (retval of tc direct-action programs). */
export const TC_ACT = { UNSPEC: -1, OK: 0, SHOT: 2, REDIRECT: 7 } as const;

/**
 * A program of a loaded {@link BpfObject}. Valid while its object is open; every method throws
 * BpfError EBADF after the object is closed.
 */
export class BpfProgram {
  readonly name: string;
  readonly #fd: () => number;

  /** @internal Created by {@link BpfObject.program}. */
  constructor(name: string, fd: () => number) {
    this.name = name;
    this.#fd = fd;
  }

  /** The program's fd (owned by its object). */
  get fd(): number { return this.#fd(); }

  /** The kernel's program id (what `bpftool prog` and {@link xdpQuery} show). */
  get id(): number { const fd = this.fd; return native(() => addon().progInfo(fd)).id; }

  /**
   * Attach as the XDP program of `ifname`. Mode default native; a program already attached in that mode
   * is replaced unless `exclusive` (then EBUSY). `netns` names a namespace under /run/netns.
   *
   * @example prog.attachXdp('wan0', { mode: 'generic', netns: 'pt.lab1.edge1' })
   */
  attachXdp(ifname: string, opts: { mode?: XdpMode; netns?: string; exclusive?: boolean } = {}): void {
    const flags = modeFlags(opts.mode) | (opts.exclusive ? XDP_FLAGS_UPDATE_IF_NOEXIST : 0);
    const fd = this.fd;
    native(() => addon().xdpAttach(fd, ifname, flags, opts.netns));
  }

  /** Detach this program from `ifname` (mode default native). EEXIST when another program, or none, is attached there. */
  detachXdp(ifname: string, opts: { mode?: XdpMode; netns?: string } = {}): void {
    const flags = modeFlags(opts.mode), fd = this.fd;
    native(() => addon().xdpDetach(ifname, flags, opts.netns, fd));
  }

  /**
   * Attach as a direct-action tc filter on the clsact qdisc of `ifname` (created when missing) at
   * `direction`, priority and handle (default 1 and 1). `replace` replaces a filter at the same place,
   * otherwise that is EEXIST.
   *
   * @example prog.attachTc('wan0', { direction: 'egress', netns: 'pt.lab1.edge1' })
   */
  attachTc(ifname: string, opts: TcPlace & { replace?: boolean }): void {
    const t = tcPlace('bpf_tc_attach', opts), fd = this.fd;
    native(() => addon().tcAttach(fd, ifname, t.ingress, t.priority, t.handle, opts.netns, !!opts.replace));
  }

  /**
   * Remove this program's tc filter at `direction`/priority/handle. ENOENT when nothing is attached there,
   * EBUSY when another program is. The clsact qdisc stays (other filters may share it).
   */
  detachTc(ifname: string, opts: TcPlace): void {
    const t = tcPlace('bpf_tc_detach', opts);
    const where = `interface "${ifname}"${opts.netns ? ` in network namespace "${opts.netns}"` : ''}, ${opts.direction} priority ${t.priority} handle ${t.handle}`;
    const current = tcQuery(ifname, opts);
    if (current === undefined) throw bpfError('bpf_tc_detach', constants.errno.ENOENT, `no tc program at ${where}`);
    const mine = this.id;
    if (current !== mine) throw bpfError('bpf_tc_detach', constants.errno.EBUSY, `program id ${current}, not this one (${mine}), is attached at ${where}`);
    native(() => addon().tcDetach(ifname, t.ingress, t.priority, t.handle, opts.netns));
  }

  /** Pin at `path` (on a BPF filesystem; parent directories are created). */
  pin(path: string): void { pinFd(this.fd, path); }

  /** Remove the pin at `path`. */
  unpin(path: string): void { unpin(path); }

  /**
   * Run the program once (or `repeat` times) on `data` with BPF_PROG_TEST_RUN.
   *
   * @example
   *   const r = prog.testRun({ data: frame });
   *   r.retval === XDP.TX; r.data; // the rewritten frame
   */
  testRun(opts: TestRunOptions): TestRunResult {
    const fd = this.fd;
    if (!Buffer.isBuffer(opts?.data)) throw bpfError('bpf_prog_test_run_opts', constants.errno.EINVAL, 'data must be a Buffer');
    const repeat = opts.repeat ?? 1;
    if (!Number.isInteger(repeat) || repeat < 1) throw bpfError('bpf_prog_test_run_opts', constants.errno.EINVAL, `repeat must be a positive integer, got ${repeat}`);
    let ctx: Buffer | null = null;
    if (opts.ingressIfindex !== undefined) {
      // struct xdp_md: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex (u32 each);
      // the kernel wants data_end = the packet length and data = data_meta = 0.
      ctx = Buffer.alloc(24);
      ctx.writeUInt32LE(opts.data.length, 4);
      ctx.writeUInt32LE(opts.ingressIfindex, 12);
      ctx.writeUInt32LE(opts.rxQueueIndex ?? 0, 16);
    }
    const out = opts.dataOutSize ?? opts.data.length + 256;
    if (!Number.isInteger(out) || out < 0 || out > 1 << 24) throw bpfError('bpf_prog_test_run_opts', constants.errno.EINVAL, `dataOutSize must be 0..16777216 bytes, got ${out}`);
    return native(() => addon().testRun(fd, opts.data, repeat, ctx, out, opts.netns));
  }
}

const PERCPU_TYPES = new Set([5 /* PERCPU_HASH */, 6 /* PERCPU_ARRAY */, 10 /* LRU_PERCPU_HASH */, 21 /* PERCPU_CGROUP_STORAGE */]);
const UPDATE_FLAGS = { any: 0, noexist: 1, exist: 2 } as const;

interface MapShape { name: string; type: number; keySize: number; valueSize: number; maxEntries: number }

/**
 * A BPF map: of a {@link BpfObject} (valid while the object is open; its fd belongs to the object) or
 * opened from a pin with {@link BpfMap.fromPinned} (owns its fd; close() or garbage collection frees it).
 * Keys and values are Buffers of exactly keySize and {@link BpfMap.valueBytes} bytes.
 */
export class BpfMap {
  readonly name: string;
  /** BPF_MAP_TYPE_* number; {@link BpfMap.typeName} gives the text. */
  readonly type: number;
  readonly keySize: number;
  /** Size of one value (of one CPU's value for per-CPU maps). */
  readonly valueSize: number;
  readonly maxEntries: number;
  /** Per-CPU map: value buffers are valueSize rounded up to 8, times {@link possibleCpus}. */
  readonly perCpu: boolean;
  readonly #fd: () => number;
  readonly #own: NativeFdHandle | undefined;
  #verifiedFd = -1;
  #valueBytes = 0;

  /** @internal Created by {@link BpfObject.map} and {@link BpfMap.fromPinned}. */
  constructor(shape: MapShape, fd: () => number, own?: NativeFdHandle) {
    this.name = shape.name;
    this.type = shape.type;
    this.keySize = shape.keySize;
    this.valueSize = shape.valueSize;
    this.maxEntries = shape.maxEntries;
    this.perCpu = PERCPU_TYPES.has(shape.type);
    this.#fd = fd;
    this.#own = own;
  }

  /**
   * Open the map pinned at `path` (e.g. /sys/fs/bpf/patronus/lab1/pt_counters). ENOENT when nothing is
   * pinned there, EINVAL when the pin is not a map.
   */
  static fromPinned(path: string): BpfMap {
    const h = native(() => new (addon().NativeFd)(path));
    try {
      // libbpf 1.1 has no typed info call: fdinfo tells a map from a program.
      const fdinfo = readFileSync(`/proc/self/fdinfo/${h.fd}`, 'utf8');
      if (!/^map_type:/m.test(fdinfo)) throw bpfError('bpf_obj_get', constants.errno.EINVAL, `${path} is not a BPF map`);
      const info = native(() => addon().mapInfo(h.fd));
      return new BpfMap(info, () => {
        if (h.fd < 0) throw bpfError('bpf_map', constants.errno.EBADF, `map ${info.name} (${path}) is closed`);
        return h.fd;
      }, h);
    } catch (e) {
      h.close();
      throw e;
    }
  }

  /** The map's fd. */
  get fd(): number { return this.#fd(); }

  /**
   * The fd for an element operation. The addon trusts the sizes passed with each element call (it saves
   * an info syscall per call), so they are checked against the kernel's view of the fd once.
   */
  #checkedFd(): number {
    const fd = this.#fd();
    if (this.#verifiedFd !== fd) {
      const k = native(() => addon().mapInfo(fd));
      if (k.keySize !== this.keySize || k.valueSize !== this.valueSize || k.type !== this.type) {
        throw bpfError('bpf_obj_get_info_by_fd', constants.errno.EINVAL,
          `map "${this.name}": the kernel reports type ${k.type}, key ${k.keySize} and value ${k.valueSize} bytes, expected type ${this.type}, ${this.keySize} and ${this.valueSize}`);
      }
      this.#verifiedFd = fd;
      this.#valueBytes = this.perCpu ? Math.ceil(this.valueSize / 8) * 8 * possibleCpus() : this.valueSize;
    }
    return fd;
  }

  /** BPF map type name, e.g. 'percpu_array'. */
  get typeName(): string { return addon().mapTypeName(this.type); }

  /** Bytes of a value buffer as lookup returns it and update expects it. */
  get valueBytes(): number { return this.perCpu ? Math.ceil(this.valueSize / 8) * 8 * possibleCpus() : this.valueSize; }

  /** The value of `key`, or undefined when absent. */
  lookup(key: Buffer): Buffer | undefined {
    const fd = this.#checkedFd();
    return native(() => addon().mapLookup(fd, key, this.keySize, this.#valueBytes));
  }

  /** Set `key` to `value`; flags: 'any' (default), 'noexist' (EEXIST if present), 'exist' (ENOENT if absent). */
  update(key: Buffer, value: Buffer, flags: 'any' | 'noexist' | 'exist' = 'any'): void {
    const f = UPDATE_FLAGS[flags];
    if (f === undefined) throw bpfError('bpf_map_update_elem', constants.errno.EINVAL, `flags must be any, noexist or exist, got ${JSON.stringify(flags)}`);
    const fd = this.#checkedFd();
    native(() => addon().mapUpdate(fd, key, value, f, this.keySize, this.#valueBytes));
  }

  /** Delete `key`; false when it was absent. (Array maps cannot delete: EINVAL.) */
  delete(key: Buffer): boolean {
    const fd = this.#checkedFd();
    return native(() => addon().mapDelete(fd, key, this.keySize));
  }

  /** All keys, by bpf_map_get_next_key. */
  keys(): Buffer[] {
    const fd = this.fd;
    const all = native(() => addon().mapKeys(fd));
    return split(all, this.keySize);
  }

  /** All entries: one BPF_MAP_LOOKUP_BATCH pass where the map type has it, else keys() + lookups. */
  entries(): [Buffer, Buffer][] {
    const fd = this.fd;
    const b = native(() => addon().mapLookupBatch(fd));
    if (b) {
      const ks = split(b.keys, this.keySize), vs = split(b.values, b.count ? b.values.length / b.count : 0);
      return ks.map((k, i) => [k, vs[i]!]);
    }
    const out: [Buffer, Buffer][] = [];
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v) out.push([k, v]);
    }
    return out;
  }

  /** A per-CPU value buffer split into one Buffer of valueSize per possible CPU. */
  perCpuValues(value: Buffer): Buffer[] {
    const stride = Math.ceil(this.valueSize / 8) * 8;
    return split(value, stride).map((b) => b.subarray(0, this.valueSize));
  }

  /** A per-CPU value buffer from one value per CPU, or from a single value copied to every CPU. */
  perCpuBuffer(values: Buffer | Buffer[]): Buffer {
    const n = possibleCpus(), stride = Math.ceil(this.valueSize / 8) * 8;
    const list = Buffer.isBuffer(values) ? new Array<Buffer>(n).fill(values) : values;
    if (list.length !== n) throw bpfError('bpf_map_update_elem', constants.errno.EINVAL, `${list.length} per-CPU values given, ${n} CPUs are possible`);
    const out = Buffer.alloc(stride * n);
    list.forEach((v, i) => {
      if (v.length !== this.valueSize) throw bpfError('bpf_map_update_elem', constants.errno.EINVAL, `per-CPU value ${i} is ${v.length} bytes, the map expects ${this.valueSize}`);
      v.copy(out, i * stride);
    });
    return out;
  }

  /** Pin at `path` (on a BPF filesystem; parent directories are created). */
  pin(path: string): void { pinFd(this.fd, path); }

  /** Remove the pin at `path`. */
  unpin(path: string): void { unpin(path); }

  /** Close a map opened from a pin; for a map of an object this does nothing (the object owns the fd). */
  close(): void { this.#own?.close(); }
}

function split(buf: Buffer, size: number): Buffer[] {
  if (size <= 0) return [];
  const out: Buffer[] = [];
  for (let o = 0; o + size <= buf.length; o += size) out.push(buf.subarray(o, o + size));
  return out;
}

/**
 * A BPF ELF object. `open` parses it (ENOENT for a missing file), `load` creates its maps (pinning those
 * marked LIBBPF_PIN_BY_NAME under `pinRoot`, reusing existing pins) and loads its programs through the
 * verifier. close() — or garbage collection — frees everything the object holds; pins stay.
 */
export class BpfObject {
  /** The ELF file. */
  readonly path: string;
  readonly #h: NativeObjectHandle;
  readonly #programs = new Map<string, BpfProgram>();
  readonly #maps = new Map<string, BpfMap>();
  #fds: { progs: Map<string, number>; maps: Map<string, number> } | undefined;

  private constructor(path: string, h: NativeObjectHandle) {
    this.path = path;
    this.#h = h;
  }

  /**
   * Open (parse, do not load) the object at `path`. `pinRoot` is libbpf's pin_root_path: maps declared
   * with `__uint(pinning, LIBBPF_PIN_BY_NAME)` are pinned at `<pinRoot>/<map name>` (directory created).
   * Without pinRoot libbpf pins them at /sys/fs/bpf/<map name>: pass one.
   *
   * @example BpfObject.open('bpf/build/wan_ingress.bpf.o', { pinRoot: '/sys/fs/bpf/patronus/lab1' })
   */
  static open(path: string, opts: { pinRoot?: string } = {}): BpfObject {
    if (opts.pinRoot) pinParent('bpf_object__open_file', `${opts.pinRoot}/x`);
    return new BpfObject(path, native(() => new (addon().NativeObject)(path, opts.pinRoot)));
  }

  get loaded(): boolean { return this.#h.loaded; }
  get closed(): boolean { return this.#h.closed; }

  /** Load-time constants (`const volatile` globals of the object's .rodata) with their sizes in bytes. */
  consts(): { name: string; size: number }[] { return native(() => this.#h.rodataVars()); }

  /**
   * Set a load-time constant before load(). Numbers and bigints are written in host byte order with the
   * variable's own size (1, 2, 4 or 8 bytes); a Buffer is copied as is and must have that size.
   * ENOENT (listing the known constants) for an unknown name, EBUSY after load().
   *
   * @example obj.setConst('cfg_overlay_port', 4797)
   */
  setConst(name: string, value: number | bigint | Buffer): void {
    const known = this.consts();
    const v = known.find((c) => c.name === name);
    if (!v) {
      throw bpfError('bpf_map__set_initial_value', constants.errno.ENOENT,
        `no load-time constant "${name}" in ${this.path} (known: ${known.map((c) => c.name).sort().join(', ') || 'none'})`);
    }
    let bytes: Buffer;
    if (Buffer.isBuffer(value)) bytes = value;
    else {
      const types = { 1: 'u8', 2: 'u16', 4: 'u32', 8: 'u64' } as const;
      const t = types[v.size as 1 | 2 | 4 | 8];
      if (!t) throw bpfError('bpf_map__set_initial_value', constants.errno.EINVAL, `load-time constant "${name}" is ${v.size} bytes: pass a Buffer`);
      try {
        bytes = scalar(t).encode(value as never);
      } catch (e) {
        throw bpfError('bpf_map__set_initial_value', constants.errno.EINVAL, `load-time constant "${name}": ${(e as Error).message}`);
      }
    }
    native(() => this.#h.setRodata(name, bytes));
  }

  /** Load maps and programs into the kernel; a verifier rejection is BpfError (EACCES/EINVAL) with the log. */
  load(): void {
    native(() => this.#h.load());
    const progs = new Map(this.#h.programs().map((p) => [p.name, p.fd]));
    const maps = new Map(this.#h.maps().map((m) => [m.name, m.fd]));
    this.#fds = { progs, maps };
  }

  /** Program names in ELF order. */
  programs(): string[] { return native(() => this.#h.programs()).map((p) => p.name); }

  /** Map names, including libbpf's internal ones (e.g. `<obj>.bss`, `<obj>.rodata`). */
  maps(): string[] { return native(() => this.#h.maps()).map((m) => m.name); }

  /** The program called `name` (the C function name); ENOENT listing the known names when missing. */
  program(name: string): BpfProgram {
    const known = this.#programs.get(name);
    if (known) return known;
    const names = this.programs();
    if (!names.includes(name)) {
      throw bpfError('bpf_object__find_program_by_name', constants.errno.ENOENT, `no program "${name}" in ${this.path} (known: ${[...names].sort().join(', ') || 'none'})`);
    }
    const p = new BpfProgram(name, () => this.#fdOf('program', name));
    this.#programs.set(name, p);
    return p;
  }

  /** The map called `name`; ENOENT listing the known names when missing. Its fd is usable after load(). */
  map(name: string): BpfMap {
    const known = this.#maps.get(name);
    if (known) return known;
    const descs = native(() => this.#h.maps());
    const d = descs.find((m) => m.name === name);
    if (!d) {
      throw bpfError('bpf_object__find_map_by_name', constants.errno.ENOENT, `no map "${name}" in ${this.path} (known: ${descs.map((m) => m.name).sort().join(', ') || 'none'})`);
    }
    const m = new BpfMap(d, () => this.#fdOf('map', name));
    this.#maps.set(name, m);
    return m;
  }

  /** Free the object, its programs' and maps' fds (attached programs and pins stay in the kernel). */
  close(): void {
    this.#h.close();
    this.#fds = undefined;
  }

  #fdOf(kind: 'program' | 'map', name: string): number {
    const call = kind === 'program' ? 'bpf_program__fd' : 'bpf_map__fd';
    if (this.#h.closed) throw bpfError(call, constants.errno.EBADF, `${kind} "${name}": the object ${this.path} is closed`);
    const fd = (kind === 'program' ? this.#fds?.progs : this.#fds?.maps)?.get(name);
    if (fd === undefined || fd < 0) throw bpfError(call, constants.errno.EBADF, `${kind} "${name}": the object ${this.path} is not loaded (call load() first)`);
    return fd;
  }
}

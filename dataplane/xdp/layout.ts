/**
 * C struct layouts in TypeScript: describe a struct of the shared BPF header once, get its size, field
 * offsets and an encoder/decoder to and from the bytes a BPF map holds, laid out with the C (x86-64 and
 * BPF target) alignment rules: every field at a multiple of its alignment, the struct's size a multiple of
 * its largest alignment, padding bytes written as zero (hash-map keys compare padding too).
 *
 * Field types and their JavaScript values:
 *
 * | type            | C                          | size | align | JS value                       |
 * | --------------- | -------------------------- | ---- | ----- | ------------------------------ |
 * | `u8` `i8`       | `__u8` `__s8`              | 1    | 1     | number                         |
 * | `u16` `i16`     | `__u16` `__s16` (host)     | 2    | 2     | number                         |
 * | `u32` `i32`     | `__u32` `__s32` (host)     | 4    | 4     | number                         |
 * | `u64` `i64`     | `__u64` `__s64` (host)     | 8    | 8     | bigint (numbers accepted)      |
 * | `be16` `be32`   | `__be16` `__be32`          | 2/4  | 2/4   | number, network order in bytes |
 * | `ipv4`          | `__be32`                   | 4    | 4     | dotted quad `'10.1.0.1'`       |
 * | `ipv6`          | `__u8[16]`                 | 16   | 1     | address text `'2001:db8::1'`   |
 * | `mac`           | `__u8[6]`                  | 6    | 1     | `'02:00:00:00:00:01'`          |
 * | `bytes(n)`      | `__u8[n]`                  | n    | 1     | Buffer of n bytes              |
 * | `pad(n)`        | `__u8 pad[n]` (or `__u16`) | n    | 1     | not in the object; zero        |
 * | `array(t, n)`   | `t[n]`                     | n×t  | t     | array of t's values            |
 * | a `struct(...)` | nested `struct`            | its  | its   | nested object                  |
 *
 * Host order is the CPU's (little-endian on x86-64, which is what BPF programs see). Field names are the C
 * member names so that `layout-check.ts` can compare a layout with the header member by member.
 *
 * @example
 *   const flowKey = struct('pt_test_flow_key', {
 *     saddr: 'ipv4', daddr: 'ipv4', sport: 'be16', dport: 'be16', proto: 'u8', pad: pad(3),
 *   });
 *   flowKey.size;                                     // 16
 *   const b = flowKey.encode({ saddr: '10.0.0.1', daddr: '10.0.0.2', sport: 1234, dport: 80, proto: 6 });
 *   flowKey.decode(b).dport;                          // 80
 */
import { isIPv4, isIPv6 } from 'node:net';
import { endianness } from 'node:os';

/** Scalar field type names (see the module table). */
export type Scalar = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64' | 'be16' | 'be32' | 'ipv4' | 'ipv6' | 'mac';

/** `__u8[n]` as a Buffer. */
export interface BytesType { readonly kind: 'bytes'; readonly length: number }
/** Explicit padding: zero on encode, absent from decoded objects. */
export interface PadType { readonly kind: 'pad'; readonly length: number; readonly align: number }
/** A fixed-length C array of another type. */
export interface ArrayType<T extends FieldType = FieldType> { readonly kind: 'array'; readonly of: T; readonly length: number }

/** Any field type. */
export type FieldType = Scalar | BytesType | PadType | ArrayType | StructLayout<any>;

/** The JavaScript value of a field type. */
export type ValueOf<T> =
  T extends 'u64' | 'i64' ? bigint
  : T extends 'ipv4' | 'ipv6' | 'mac' ? string
  : T extends Scalar ? number
  : T extends BytesType ? Buffer
  : T extends ArrayType<infer E> ? ValueOf<E>[]
  : T extends StructLayout<infer S> ? S
  : never;

/** Field-type record → decoded object type (padding fields removed). */
export type StructValue<F extends Record<string, FieldType>> = {
  -readonly [K in keyof F as F[K] extends PadType ? never : K]: ValueOf<F[K]>;
};

/** Input accepted by encode: like the decoded value, but 64-bit fields also take numbers. */
export type EncodeInput<T> = T extends bigint ? bigint | number
  : T extends Buffer ? Buffer
  : T extends (infer E)[] ? EncodeInput<E>[]
  : T extends object ? { [K in keyof T]: EncodeInput<T[K]> }
  : T;

/** One placed field. */
export interface FieldInfo {
  readonly name: string;
  readonly type: FieldType;
  /** Byte offset from the start of the struct. */
  readonly offset: number;
  readonly size: number;
  readonly align: number;
}

/** A struct layout: sizes, offsets, encoder and decoder. Build with {@link struct}. */
export interface StructLayout<T = Record<string, unknown>> {
  readonly kind: 'struct';
  /** The C struct tag without `struct `, e.g. `pt_flow_key`. */
  readonly name: string;
  /** sizeof, in bytes, including tail padding. */
  readonly size: number;
  /** _Alignof, in bytes. */
  readonly align: number;
  readonly fields: readonly FieldInfo[];
  /** Offset of a field by name; throws for an unknown name. */
  offsetOf(field: string): number;
  /** Bytes of `value` (a new zeroed Buffer of `size`, or written into `into` at `offset`). */
  encode(value: EncodeInput<T>, into?: Buffer, offset?: number): Buffer;
  /** The value held in `buf` at `offset` (default 0); `buf` must hold at least `size` bytes from there. */
  decode(buf: Buffer, offset?: number): T;
}

/** `__u8[n]` as a Buffer field. */
export const bytes = (length: number): BytesType => ({ kind: 'bytes', length: checkLength(length, 'bytes') });

/** Explicit padding of `length` bytes (alignment 1 unless given, e.g. `pad(2, 2)` for a `__u16 pad`). */
export const pad = (length: number, align = 1): PadType => ({ kind: 'pad', length: checkLength(length, 'pad'), align });

/** A fixed-length array, e.g. `array('u16', 4)` for `__u16 paths[4]`. */
export const array = <T extends FieldType>(of: T, length: number): ArrayType<T> => ({ kind: 'array', of, length: checkLength(length, 'array') });

function checkLength(n: number, what: string): number {
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`${what}(${n}): length must be a positive integer`);
  return n;
}

const SCALARS: Record<Scalar, { size: number; align: number }> = {
  u8: { size: 1, align: 1 }, i8: { size: 1, align: 1 },
  u16: { size: 2, align: 2 }, i16: { size: 2, align: 2 }, be16: { size: 2, align: 2 },
  u32: { size: 4, align: 4 }, i32: { size: 4, align: 4 }, be32: { size: 4, align: 4 }, ipv4: { size: 4, align: 4 },
  u64: { size: 8, align: 8 }, i64: { size: 8, align: 8 },
  ipv6: { size: 16, align: 1 }, mac: { size: 6, align: 1 },
};

/** Size and alignment of any field type. */
export function sizeAlign(t: FieldType): { size: number; align: number } {
  if (typeof t === 'string') {
    const s = SCALARS[t];
    if (!s) throw new TypeError(`unknown field type "${t}" (known: ${Object.keys(SCALARS).join(', ')})`);
    return s;
  }
  switch (t.kind) {
    case 'bytes': return { size: t.length, align: 1 };
    case 'pad': return { size: t.length, align: t.align };
    case 'array': { const e = sizeAlign(t.of); return { size: e.size * t.length, align: e.align }; }
    case 'struct': return { size: t.size, align: t.align };
  }
}

const LE = endianness() === 'LE';

/**
 * Define a struct layout from its fields in C declaration order.
 *
 * @param name the C struct tag (without `struct `), used by the header check and in error messages
 * @param fields field name → type, in declaration order
 */
export function struct<const F extends Record<string, FieldType>>(name: string, fields: F): StructLayout<StructValue<F>> {
  const placed: FieldInfo[] = [];
  let off = 0, align = 1;
  for (const [fname, type] of Object.entries(fields)) {
    const sa = sizeAlign(type);
    off = Math.ceil(off / sa.align) * sa.align;
    placed.push({ name: fname, type, offset: off, size: sa.size, align: sa.align });
    off += sa.size;
    align = Math.max(align, sa.align);
  }
  const size = Math.ceil(off / align) * align;
  const byName = new Map(placed.map((f) => [f.name, f]));
  const layout: StructLayout<StructValue<F>> = {
    kind: 'struct', name, size, align, fields: placed,
    offsetOf(field) {
      const f = byName.get(field);
      if (!f) throw new TypeError(`struct ${name} has no field "${field}" (fields: ${[...byName.keys()].join(', ')})`);
      return f.offset;
    },
    encode(value, into, offset = 0) {
      const buf = into ?? Buffer.alloc(size);
      if (buf.length < offset + size) throw new RangeError(`struct ${name}: needs ${size} bytes at offset ${offset}, buffer has ${buf.length}`);
      buf.fill(0, offset, offset + size);
      writeStruct(layout, value as Record<string, unknown>, buf, offset, name);
      return buf;
    },
    decode(buf, offset = 0) {
      if (buf.length < offset + size) throw new RangeError(`struct ${name}: needs ${size} bytes at offset ${offset}, buffer has ${buf.length}`);
      return readStruct(layout, buf, offset) as StructValue<F>;
    },
  };
  return layout;
}

function writeStruct(l: StructLayout<any>, v: Record<string, unknown>, buf: Buffer, base: number, path: string): void {
  if (v === null || typeof v !== 'object') throw new TypeError(`${path}: expected an object for struct ${l.name}`);
  for (const f of l.fields) {
    if (typeof f.type === 'object' && f.type.kind === 'pad') continue;
    if (!(f.name in v)) throw new TypeError(`${path}.${f.name}: missing (struct ${l.name} needs every field)`);
    writeField(f.type, v[f.name], buf, base + f.offset, `${path}.${f.name}`);
  }
}

function writeField(t: FieldType, v: unknown, buf: Buffer, at: number, path: string): void {
  if (typeof t === 'string') return writeScalar(t, v, buf, at, path);
  switch (t.kind) {
    case 'pad': return;
    case 'bytes':
      if (!Buffer.isBuffer(v) || v.length !== t.length) throw new TypeError(`${path}: expected a Buffer of ${t.length} bytes`);
      v.copy(buf, at);
      return;
    case 'array': {
      if (!Array.isArray(v) || v.length !== t.length) throw new TypeError(`${path}: expected an array of ${t.length} elements`);
      const step = sizeAlign(t.of).size;
      v.forEach((e, i) => writeField(t.of, e, buf, at + i * step, `${path}[${i}]`));
      return;
    }
    case 'struct': return writeStruct(t, v as Record<string, unknown>, buf, at, path);
  }
}

function int(v: unknown, path: string, bits: number, signed: boolean): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeError(`${path}: expected an integer, got ${JSON.stringify(v)}`);
  const lo = signed ? -(2 ** (bits - 1)) : 0, hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  if (v < lo || v > hi) throw new RangeError(`${path}: ${v} is outside ${lo}..${hi}`);
  return v;
}

function big(v: unknown, path: string, signed: boolean): bigint {
  const b = typeof v === 'bigint' ? v : typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : undefined;
  if (b === undefined) throw new TypeError(`${path}: expected a bigint or a safe integer, got ${String(v)}`);
  const lo = signed ? -(1n << 63n) : 0n, hi = signed ? (1n << 63n) - 1n : (1n << 64n) - 1n;
  if (b < lo || b > hi) throw new RangeError(`${path}: ${b} is outside ${lo}..${hi}`);
  return b;
}

function writeScalar(t: Scalar, v: unknown, buf: Buffer, at: number, path: string): void {
  switch (t) {
    case 'u8': buf.writeUInt8(int(v, path, 8, false), at); return;
    case 'i8': buf.writeInt8(int(v, path, 8, true), at); return;
    case 'u16': LE ? buf.writeUInt16LE(int(v, path, 16, false), at) : buf.writeUInt16BE(int(v, path, 16, false), at); return;
    case 'i16': LE ? buf.writeInt16LE(int(v, path, 16, true), at) : buf.writeInt16BE(int(v, path, 16, true), at); return;
    case 'u32': LE ? buf.writeUInt32LE(int(v, path, 32, false), at) : buf.writeUInt32BE(int(v, path, 32, false), at); return;
    case 'i32': LE ? buf.writeInt32LE(int(v, path, 32, true), at) : buf.writeInt32BE(int(v, path, 32, true), at); return;
    case 'u64': LE ? buf.writeBigUInt64LE(big(v, path, false), at) : buf.writeBigUInt64BE(big(v, path, false), at); return;
    case 'i64': LE ? buf.writeBigInt64LE(big(v, path, true), at) : buf.writeBigInt64BE(big(v, path, true), at); return;
    case 'be16': buf.writeUInt16BE(int(v, path, 16, false), at); return;
    case 'be32': buf.writeUInt32BE(int(v, path, 32, false), at); return;
    case 'ipv4': {
      if (typeof v !== 'string' || !isIPv4(v)) throw new TypeError(`${path}: expected an IPv4 address, got ${JSON.stringify(v)}`);
      v.split('.').forEach((o, i) => { buf[at + i] = Number(o); });
      return;
    }
    case 'ipv6': {
      if (typeof v !== 'string' || !isIPv6(v)) throw new TypeError(`${path}: expected an IPv6 address, got ${JSON.stringify(v)}`);
      ipv6Bytes(v).copy(buf, at);
      return;
    }
    case 'mac': {
      if (typeof v !== 'string' || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(v)) throw new TypeError(`${path}: expected a MAC address like 02:00:00:00:00:01, got ${JSON.stringify(v)}`);
      v.split(':').forEach((o, i) => { buf[at + i] = parseInt(o, 16); });
      return;
    }
  }
}

/** The 16 bytes of an IPv6 address (text form, with `::` and an optional dotted IPv4 tail). */
export function ipv6Bytes(addr: string): Buffer {
  if (!isIPv6(addr)) throw new TypeError(`not an IPv6 address: ${JSON.stringify(addr)}`);
  const text = addr.replace(/(\d+)\.(\d+)\.(\d+)\.(\d+)$/, (_m, a, b, c, d) =>
    `${((Number(a) << 8) | Number(b)).toString(16)}:${((Number(c) << 8) | Number(d)).toString(16)}`);
  const halves = text.split('::');
  const parse = (s: string | undefined) => (s ? s.split(':').map((h) => parseInt(h, 16)) : []);
  const head = parse(halves[0]), tail = parse(halves[1]);
  const groups = halves.length > 1 ? [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail] : head;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** Canonical text (RFC 5952: lower case, longest zero run as `::`) of 16 address bytes. */
export function ipv6Text(b: Buffer, at = 0): string {
  const g = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(at + i * 2));
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function readStruct(l: StructLayout<any>, buf: Buffer, base: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of l.fields) {
    if (typeof f.type === 'object' && f.type.kind === 'pad') continue;
    out[f.name] = readField(f.type, buf, base + f.offset);
  }
  return out;
}

function readField(t: FieldType, buf: Buffer, at: number): unknown {
  if (typeof t === 'string') return readScalar(t, buf, at);
  switch (t.kind) {
    case 'pad': return undefined;
    case 'bytes': return Buffer.from(buf.subarray(at, at + t.length));
    case 'array': {
      const step = sizeAlign(t.of).size;
      return Array.from({ length: t.length }, (_, i) => readField(t.of, buf, at + i * step));
    }
    case 'struct': return readStruct(t, buf, at);
  }
}

function readScalar(t: Scalar, buf: Buffer, at: number): unknown {
  switch (t) {
    case 'u8': return buf.readUInt8(at);
    case 'i8': return buf.readInt8(at);
    case 'u16': return LE ? buf.readUInt16LE(at) : buf.readUInt16BE(at);
    case 'i16': return LE ? buf.readInt16LE(at) : buf.readInt16BE(at);
    case 'u32': return LE ? buf.readUInt32LE(at) : buf.readUInt32BE(at);
    case 'i32': return LE ? buf.readInt32LE(at) : buf.readInt32BE(at);
    case 'u64': return LE ? buf.readBigUInt64LE(at) : buf.readBigUInt64BE(at);
    case 'i64': return LE ? buf.readBigInt64LE(at) : buf.readBigInt64BE(at);
    case 'be16': return buf.readUInt16BE(at);
    case 'be32': return buf.readUInt32BE(at);
    case 'ipv4': return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
    case 'ipv6': return ipv6Text(buf, at);
    case 'mac': return Array.from(buf.subarray(at, at + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
  }
}

/** Anything that turns a value into a fixed number of bytes and back: a {@link StructLayout} or a {@link scalar}. */
export interface Codec<T> {
  readonly size: number;
  encode(value: EncodeInput<T>): Buffer;
  decode(buf: Buffer, offset?: number): T;
}

/**
 * A codec for a lone scalar or array, e.g. the `__u32` key of an array map.
 *
 * @example scalar('u32').encode(7) // <Buffer 07 00 00 00>
 */
export function scalar<T extends Exclude<FieldType, PadType | StructLayout<any>>>(type: T): Codec<ValueOf<T>> {
  const { size } = sizeAlign(type);
  return {
    size,
    encode(value) {
      const buf = Buffer.alloc(size);
      writeField(type, value, buf, 0, typeof type === 'string' ? type : type.kind);
      return buf;
    },
    decode(buf, offset = 0) {
      if (buf.length < offset + size) throw new RangeError(`needs ${size} bytes at offset ${offset}, buffer has ${buf.length}`);
      return readField(type, buf, offset) as ValueOf<T>;
    },
  };
}

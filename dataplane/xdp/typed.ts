/**
 * Typed map accessors: a {@link BpfMap} paired with key and value codecs (struct layouts from layout.ts
 * or scalars), so callers read and write objects instead of Buffers. The codecs' sizes are checked against
 * the map's key and value sizes when the accessor is made (BpfError EINVAL on a mismatch), which catches a
 * layout that drifted from the shared header as soon as it meets the real map.
 *
 * @example
 *   const flows = typedMap(obj.map('pt_flows'), flowKey, scalar('u64'));
 *   flows.set({ saddr: '10.0.0.1', ... }, 1n);
 *   const counters = perCpuMap(obj.map('pt_counters'), scalar('u32'), counter);
 *   counters.get(0); // one { packets, bytes } per possible CPU
 */
import { constants } from 'node:os';
import type { Codec, EncodeInput } from './layout.ts';
import { BpfError } from './errors.ts';
import type { BpfMap } from './index.ts';

function check(map: BpfMap, key: Codec<unknown>, value: Codec<unknown>, wantPerCpu: boolean): void {
  const problems: string[] = [];
  if (key.size !== map.keySize) problems.push(`key layout is ${key.size} bytes, the map's keys ${map.keySize}`);
  if (value.size !== map.valueSize) problems.push(`value layout is ${value.size} bytes, the map's values ${map.valueSize}`);
  if (map.perCpu !== wantPerCpu) problems.push(wantPerCpu ? 'the map is not per-CPU (use typedMap)' : 'the map is per-CPU (use perCpuMap)');
  if (problems.length) {
    const detail = `map "${map.name}": ${problems.join('; ')}`;
    throw new BpfError('typed map', constants.errno.EINVAL, `typed map: EINVAL (errno ${constants.errno.EINVAL}): ${detail}`, { detail });
  }
}

/** A non-per-CPU map seen through key type K and value type V. */
export class TypedMap<K, V> {
  constructor(readonly map: BpfMap, readonly key: Codec<K>, readonly value: Codec<V>) {
    check(map, key as Codec<unknown>, value as Codec<unknown>, false);
  }
  /** The value of `k`, or undefined when absent. */
  get(k: EncodeInput<K>): V | undefined {
    const v = this.map.lookup(this.key.encode(k));
    return v && this.value.decode(v);
  }
  /** Set `k` to `v` (flags as {@link BpfMap.update}). */
  set(k: EncodeInput<K>, v: EncodeInput<V>, flags: 'any' | 'noexist' | 'exist' = 'any'): void {
    this.map.update(this.key.encode(k), this.value.encode(v), flags);
  }
  /** Delete `k`; false when absent. */
  delete(k: EncodeInput<K>): boolean { return this.map.delete(this.key.encode(k)); }
  keys(): K[] { return this.map.keys().map((b) => this.key.decode(b)); }
  entries(): [K, V][] { return this.map.entries().map(([k, v]) => [this.key.decode(k), this.value.decode(v)]); }
}

/** A per-CPU map seen through key type K and value type V: values are one V per possible CPU. */
export class PerCpuMap<K, V> {
  constructor(readonly map: BpfMap, readonly key: Codec<K>, readonly value: Codec<V>) {
    check(map, key as Codec<unknown>, value as Codec<unknown>, true);
  }
  /** One value per possible CPU, or undefined when `k` is absent. */
  get(k: EncodeInput<K>): V[] | undefined {
    const v = this.map.lookup(this.key.encode(k));
    return v && this.map.perCpuValues(v).map((b) => this.value.decode(b));
  }
  /** Set `k` to the same value on every CPU. */
  set(k: EncodeInput<K>, v: EncodeInput<V>, flags: 'any' | 'noexist' | 'exist' = 'any'): void {
    this.map.update(this.key.encode(k), this.map.perCpuBuffer(this.value.encode(v)), flags);
  }
  /** Set `k` to one value per possible CPU (vs.length must be {@link possibleCpus}). */
  setPerCpu(k: EncodeInput<K>, vs: EncodeInput<V>[], flags: 'any' | 'noexist' | 'exist' = 'any'): void {
    this.map.update(this.key.encode(k), this.map.perCpuBuffer(vs.map((x) => this.value.encode(x))), flags);
  }
  delete(k: EncodeInput<K>): boolean { return this.map.delete(this.key.encode(k)); }
  keys(): K[] { return this.map.keys().map((b) => this.key.decode(b)); }
  entries(): [K, V[]][] {
    return this.map.entries().map(([k, v]) => [this.key.decode(k), this.map.perCpuValues(v).map((b) => this.value.decode(b))]);
  }
}

/** {@link TypedMap} over `map`. */
export const typedMap = <K, V>(map: BpfMap, key: Codec<K>, value: Codec<V>): TypedMap<K, V> => new TypedMap(map, key, value);
/** {@link PerCpuMap} over `map`. */
export const perCpuMap = <K, V>(map: BpfMap, key: Codec<K>, value: Codec<V>): PerCpuMap<K, V> => new PerCpuMap(map, key, value);

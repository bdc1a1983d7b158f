/**
 * Checks TypeScript struct layouts (layout.ts) against the C header they mirror, so the two are never
 * hand-synced silently. Two compilers read the header:
 *
 * 1. clang `-target bpf -g` compiles a probe that mentions every struct; `bpftool btf dump` lists each
 *    struct's members with offsets, sizes and type names exactly as the BPF programs see them;
 * 2. the host C compiler builds and runs a program printing `sizeof`, `_Alignof` and, for every member
 *    BTF listed, `offsetof` and `sizeof` — what user space sees.
 *
 * Then every struct is compared: the BPF and host views must agree, and the TypeScript layout must have
 * exactly the C members, at the same offsets, with the same sizes, the same total size and alignment, the
 * same nested struct tags, and the same byte order (`__be16`/`__be32` members need `be16`/`be32`/`ipv4`).
 * Tests call {@link checkLayouts}; needs clang, bpftool and cc (all installed by scripts/setup.sh).
 *
 * @example
 *   const r = checkLayouts('bpf/include/patronus_shared.h', [flowKey, flowVal]);
 *   assert.equal(r.problems, []);
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { FieldType, StructLayout } from './layout.ts';

/** One member of a C struct. */
export interface CMember {
  name: string;
  /** Byte offset. */
  offset: number;
  /** sizeof the member, in bytes. */
  size: number;
  /** The member's declared type as BTF names it: `__be16`, `__u8[16]`, `struct bpf_spin_lock`, ... */
  typeName: string;
}

/** A C struct as the header defines it. */
export interface CStruct { name: string; size: number; align: number; members: CMember[] }

/** Tools and include paths of the probe. */
export interface ProbeOptions {
  /** Host C compiler; default `cc`. */
  cc?: string;
  /** Default `clang`. */
  clang?: string;
  /** Default `bpftool`. */
  bpftool?: string;
  /** Extra -I directories (both compilers); /usr/include/<multiarch> is always added for clang. */
  includeDirs?: string[];
}

/** Result of {@link checkLayouts}: the C structs read and every disagreement found (empty = all agree). */
export interface LayoutReport { structs: Map<string, CStruct>; problems: string[] }

interface BtfType { id: number; kind: string; name?: string; type_id?: number; size?: number; members?: { name: string; type_id: number; bits_offset: number; bitfield_size?: number }[]; nr_elems?: number }

function btfTypes(obj: string, bpftool: string): Map<number, BtfType> {
  const json = JSON.parse(execFileSync(bpftool, ['-j', 'btf', 'dump', 'file', obj], { encoding: 'utf8' })) as { types: BtfType[] };
  return new Map(json.types.map((t) => [t.id, t]));
}

function btfSize(types: Map<number, BtfType>, id: number): number {
  const t = types.get(id);
  if (!t) throw new Error(`BTF type ${id} missing`);
  switch (t.kind) {
    case 'INT': case 'STRUCT': case 'UNION': case 'ENUM': case 'ENUM64': case 'FLOAT': return t.size!;
    case 'PTR': return 8;
    case 'ARRAY': return t.nr_elems! * btfSize(types, t.type_id!);
    case 'TYPEDEF': case 'CONST': case 'VOLATILE': case 'RESTRICT': case 'TYPE_TAG': return btfSize(types, t.type_id!);
    default: throw new Error(`BTF kind ${t.kind} has no size`);
  }
}

function btfName(types: Map<number, BtfType>, id: number): string {
  const t = types.get(id)!;
  switch (t.kind) {
    case 'STRUCT': return `struct ${t.name}`;
    case 'UNION': return `union ${t.name}`;
    case 'ENUM': case 'ENUM64': return `enum ${t.name}`;
    case 'ARRAY': return `${btfName(types, t.type_id!)}[${t.nr_elems}]`;
    case 'PTR': return `${btfName(types, t.type_id!)} *`;
    case 'CONST': case 'VOLATILE': return btfName(types, t.type_id!);
    default: return t.name ?? t.kind;
  }
}

/** Every struct tag reachable from `layouts`, nested ones included, in first-seen order. */
function allStructs(layouts: StructLayout<any>[]): StructLayout<any>[] {
  const out = new Map<string, StructLayout<any>>();
  const visit = (t: FieldType): void => {
    if (typeof t === 'string') return;
    if (t.kind === 'array') return visit(t.of);
    if (t.kind !== 'struct' || out.has(t.name)) return;
    out.set(t.name, t);
    for (const f of t.fields) visit(f.type);
  };
  layouts.forEach(visit);
  return [...out.values()];
}

/**
 * Read the named structs of `header` through BTF (clang -target bpf) and the host compiler; throws when a
 * compiler fails (the error includes its output) or, unless `missing: 'report'`, when a struct is not
 * defined. Problems (the two views disagree, a struct is missing) are returned alongside.
 */
export function probeHeader(header: string, names: string[], opts: ProbeOptions & { missing?: 'throw' | 'report' } = {}): LayoutReport {
  const abs = resolve(header);
  const dir = mkdtempSync(join(tmpdir(), 'pt-layout-'));
  const inc = (opts.includeDirs ?? []).flatMap((d) => ['-I', resolve(d)]);
  const problems: string[] = [];
  try {
    const multiarch = execFileSync(opts.cc ?? 'cc', ['-print-multiarch'], { encoding: 'utf8' }).trim();
    writeFileSync(join(dir, 'probe.bpf.c'), `#include "${abs}"\n${names.map((n, i) => `struct ${n} *__pt_probe_${i};`).join('\n')}\n`);
    execFileSync(opts.clang ?? 'clang', ['-g', '-O2', '-target', 'bpf', ...(multiarch ? ['-I', `/usr/include/${multiarch}`] : []), ...inc,
      '-c', join(dir, 'probe.bpf.c'), '-o', join(dir, 'probe.bpf.o')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const types = btfTypes(join(dir, 'probe.bpf.o'), opts.bpftool ?? 'bpftool');
    const btf = new Map<string, CStruct>();
    for (const t of types.values()) {
      if (t.kind !== 'STRUCT' || !t.name || !names.includes(t.name)) continue;
      btf.set(t.name, {
        name: t.name, size: t.size!, align: 0,
        members: (t.members ?? []).map((m) => {
          if (m.bitfield_size || m.bits_offset % 8) problems.push(`struct ${t.name}.${m.name}: bit-fields are not supported by layout.ts`);
          return { name: m.name, offset: m.bits_offset / 8, size: btfSize(types, m.type_id), typeName: btfName(types, m.type_id) };
        }),
      });
    }
    const missing = names.filter((n) => !btf.has(n));
    if (missing.length && opts.missing !== 'report') throw new Error(`${header}: no definition of struct ${missing.join(', struct ')}`);
    for (const n of missing) problems.push(`struct ${n}: no definition in ${header}`);
    names = names.filter((n) => btf.has(n));

    // Host view: one JSON object per line, {name, size, align, members: [[offset, size], ...]}.
    const lines = names.map((n) => {
      const ms = btf.get(n)!.members.map((m) => `(unsigned long)offsetof(struct ${n}, ${m.name}), (unsigned long)sizeof(((struct ${n} *)0)->${m.name})`);
      const fmt = `{"name":"${n}","size":%lu,"align":%lu,"members":[${btf.get(n)!.members.map(() => '[%lu,%lu]').join(',')}]}\n`;
      // A JSON string literal is also a valid C string literal for these characters.
      return `  printf(${JSON.stringify(fmt)}, (unsigned long)sizeof(struct ${n}), (unsigned long)_Alignof(struct ${n})${ms.length ? ', ' + ms.join(', ') : ''});`;
    });
    writeFileSync(join(dir, 'probe.c'), `#include <stdio.h>\n#include <stddef.h>\n#include "${abs}"\nint main(void) {\n${lines.join('\n')}\n  return 0;\n}\n`);
    execFileSync(opts.cc ?? 'cc', ['-std=gnu11', ...inc, join(dir, 'probe.c'), '-o', join(dir, 'probe')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = execFileSync(join(dir, 'probe'), { encoding: 'utf8' });
    const structs = new Map<string, CStruct>();
    for (const line of out.split('\n').filter(Boolean)) {
      const h = JSON.parse(line) as { name: string; size: number; align: number; members: [number, number][] };
      const b = btf.get(h.name)!;
      if (b.size !== h.size) problems.push(`struct ${h.name}: size ${b.size} for BPF but ${h.size} on the host`);
      b.members.forEach((m, i) => {
        const [off, size] = h.members[i]!;
        if (off !== m.offset || size !== m.size) problems.push(`struct ${h.name}.${m.name}: offset/size ${m.offset}/${m.size} for BPF but ${off}/${size} on the host`);
      });
      structs.set(h.name, { ...b, align: h.align });
    }
    return { structs, problems };
  } catch (e) {
    const x = e as { stderr?: Buffer | string; message: string };
    if (x.stderr) throw new Error(`layout probe of ${header} failed: ${x.message}\n${String(x.stderr)}`);
    throw e;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const BE_OK: Record<string, readonly string[]> = { __be16: ['be16'], __be32: ['be32', 'ipv4'] };

/** Disagreements between one TypeScript layout and its C struct (empty when they match). */
export function compareLayout(ts: StructLayout<any>, c: CStruct): string[] {
  const p: string[] = [];
  const where = `struct ${c.name}`;
  if (ts.size !== c.size) p.push(`${where}: size is ${c.size} in C, ${ts.size} in TypeScript`);
  if (ts.align !== c.align) p.push(`${where}: alignment is ${c.align} in C, ${ts.align} in TypeScript`);
  const tsFields = new Map(ts.fields.map((f) => [f.name, f]));
  for (const m of c.members) {
    const f = tsFields.get(m.name);
    if (!f) { p.push(`${where}.${m.name}: missing in TypeScript (C: ${m.typeName} at offset ${m.offset})`); continue; }
    if (f.offset !== m.offset) p.push(`${where}.${m.name}: offset is ${m.offset} in C, ${f.offset} in TypeScript`);
    if (f.size !== m.size) p.push(`${where}.${m.name}: size is ${m.size} in C (${m.typeName}), ${f.size} in TypeScript`);
    const t = f.type;
    const tsBase = typeof t === 'string' ? t : t.kind === 'array' && typeof t.of === 'string' ? t.of : undefined;
    const cBase = m.typeName.replace(/\[\d+\]$/, '');
    if (BE_OK[cBase] && !(tsBase && BE_OK[cBase].includes(tsBase))) p.push(`${where}.${m.name}: C declares ${m.typeName} (network order), TypeScript ${tsBase ?? 'a non-scalar'}`);
    if (tsBase && /^be|^ipv4$/.test(tsBase) && !BE_OK[cBase]) p.push(`${where}.${m.name}: TypeScript ${tsBase} is network order, C declares ${m.typeName}`);
    const tsStruct = typeof t === 'object' && t.kind === 'struct' ? t.name : typeof t === 'object' && t.kind === 'array' && typeof t.of === 'object' && t.of.kind === 'struct' ? t.of.name : undefined;
    const cStruct = /^struct (\w+)/.exec(m.typeName)?.[1];
    if ((tsStruct || cStruct) && tsStruct !== cStruct) p.push(`${where}.${m.name}: C type ${m.typeName}, TypeScript ${tsStruct ? `struct ${tsStruct}` : 'not a struct'}`);
  }
  for (const f of ts.fields) if (!c.members.some((m) => m.name === f.name)) p.push(`${where}.${f.name}: in TypeScript but not in C`);
  return p;
}

/**
 * Compare `layouts` (and the structs nested in them) with their definitions in `header`.
 * `problems` lists every disagreement, one line each, naming struct, member and both views.
 */
export function checkLayouts(header: string, layouts: StructLayout<any>[], opts: ProbeOptions = {}): LayoutReport {
  const all = allStructs(layouts);
  const r = probeHeader(header, all.map((l) => l.name), { ...opts, missing: 'report' });
  const absent = layouts.filter((l) => !r.structs.has(l.name)).map((l) => l.name);
  if (absent.length) throw new Error(`${header}: no definition of struct ${absent.join(', struct ')}`);
  const problems = [...r.problems];
  for (const l of all) {
    const c = r.structs.get(l.name);
    if (c) problems.push(...compareLayout(l, c));
  }
  return { structs: r.structs, problems };
}

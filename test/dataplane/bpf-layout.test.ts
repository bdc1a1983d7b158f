// timeout: 90
/**
 * The TypeScript mirror (dataplane/xdp/maps.ts) against bpf/include/patronus_shared.h: sizeof and offsetof
 * of every shared struct as the host C compiler and clang's BTF print them, at test time; and the map
 * catalogue against the maps of the compiled objects.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkLayouts, probeHeader } from '../../dataplane/xdp/index.ts';
import { DROP_MAX, DropReason, LOCAL_MARK, LOCAL_MARK_MASK, MAPS, OVERLAY_OVERHEAD, PROGRAMS, PathFlag, SteerFlag, WG_OVERHEAD, overlayHdr, sharedLayouts } from '../../dataplane/xdp/maps.ts';
import { execFileSync } from 'node:child_process';

const root = fileURLToPath(new URL('../../', import.meta.url));
const header = `${root}bpf/include/patronus_shared.h`;

test('every shared struct has the same size, alignment and member offsets in C and TypeScript', () => {
  const r = checkLayouts(header, sharedLayouts);
  assert.equal(r.problems, []);
  assert.ok(r.structs.size >= sharedLayouts.length, 'all structs were read from the header');
  assert.is(overlayHdr.size, 16);
  assert.is(OVERLAY_OVERHEAD, 20 + 8 + overlayHdr.size);
});

test('a deliberately wrong layout is reported (the check can fail)', async () => {
  const { struct } = await import('../../dataplane/xdp/layout.ts');
  const wrong = struct('pt_route_val', { kind: 'u8', site: 'u16', flags: 'u8' });
  const r = checkLayouts(header, [wrong]);
  assert.ok(r.problems.some((p) => /pt_route_val\.flags: offset is 1 in C, 4 in TypeScript/.test(p)), r.problems.join("\n"));
  assert.ok(r.problems.some((p) => /pt_route_val: size is 4 in C, 6 in TypeScript/.test(p)));
});

test('the drop-reason enum matches the header', () => {
  const src = execFileSync('cc', ['-E', '-dD', '-I/usr/include/x86_64-linux-gnu', '-xc', '-'], {
    input: `#include "${header}"\n#include <stdio.h>\n`, encoding: 'utf8',
  });
  assert.ok(src.includes('PT_DROP_MAX'));
  // Compile a program printing each enumerator, so the values come from the compiler, not a regex.
  const names = Object.keys(DropReason);
  const cname = (n: string) => 'PT_DROP_' + n.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
  const prog = `#include "${header}"\n#include <stdio.h>\nint main(void){\n` +
    names.map((n) => `printf("%d\\n", ${cname(n)});`).join('\n') + `printf("%d\\n", PT_DROP_MAX);return 0;}\n`;
  const dir = execFileSync('mktemp', ['-d', '/tmp/pt-enum-XXXXXX'], { encoding: 'utf8' }).trim();
  try {
    execFileSync('cc', ['-o', `${dir}/e`, '-xc', '-'], { input: prog });
    const out = execFileSync(`${dir}/e`, { encoding: 'utf8' }).trim().split('\n').map(Number);
    assert.equal(out, [...Object.values(DropReason), DROP_MAX]);
  } finally {
    execFileSync('rm', ['-rf', dir]);
  }
});

test('the steering flags, the local-service mark and the path flags match the header', () => {
  const names = { duplicate: 'PT_STEER_DUPLICATE', perPacket: 'PT_STEER_PER_PACKET', localTcp: 'PT_STEER_LOCAL_TCP', localUdp: 'PT_STEER_LOCAL_UDP' } as const;
  const consts: [string, number][] = [...Object.entries(names).map(([k, c]) => [c, SteerFlag[k as keyof typeof names]] as [string, number]), ['PT_LOCAL_MARK', LOCAL_MARK], ['PT_LOCAL_MARK_MASK', LOCAL_MARK_MASK],
    ['PT_PATH_SHAPED', PathFlag.shaped], ['PT_PATH_WG', PathFlag.wg], ['PT_WG_OVERHEAD', WG_OVERHEAD]];
  const prog = `#include "${header}"\n#include <stdio.h>\nint main(void){\n` + consts.map(([c]) => `printf("%u\\n", (unsigned)(${c}));`).join('\n') + 'return 0;}\n';
  const dir = execFileSync('mktemp', ['-d', '/tmp/pt-consts-XXXXXX'], { encoding: 'utf8' }).trim();
  try {
    execFileSync('cc', ['-I/usr/include/x86_64-linux-gnu', '-o', `${dir}/c`, '-xc', '-'], { input: prog });
    const out = execFileSync(`${dir}/c`, { encoding: 'utf8' }).trim().split('\n').map(Number);
    assert.equal(out, consts.map(([, v]) => v));
  } finally {
    execFileSync('rm', ['-rf', dir]);
  }
});

test('the map catalogue names every map of the objects with matching key and value sizes', () => {
  for (const { object } of Object.values(PROGRAMS)) {
    const obj = `${root}bpf/build/${object}`;
    assert.ok(existsSync(obj), `${obj} is built (npm run build)`);
    const btf = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', obj], { encoding: 'utf8' })) as {
      types: { id: number; kind: string; name?: string; vars?: { type_id: number }[] }[];
    };
    const byId = new Map(btf.types.map((t) => [t.id, t]));
    const datasec = btf.types.find((t) => t.kind === 'DATASEC' && t.name === '.maps');
    assert.ok(datasec?.vars, `${object} has a .maps section`);
    const declared = datasec!.vars!.map((v) => byId.get(v.type_id)?.name ?? '?').sort();
    assert.equal(declared, Object.keys(MAPS).sort(), object);
  }
  const r = probeHeader(header, ['pt_flow_key']);
  assert.is(r.structs.get('pt_flow_key')!.size, MAPS.pt_flows.key.size);
});

test.run();

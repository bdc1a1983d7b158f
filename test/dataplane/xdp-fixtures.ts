/**
 * Helpers of the dataplane/xdp tests: compile the fixture BPF programs (test/fixtures/bpf) into a fresh
 * temporary directory, name things uniquely with the `pt` prefix, and run ip(8) commands.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as assert from 'uvu/assert';
import { array, BpfObject, isBpfError, pad, struct, type BpfError } from '../../dataplane/xdp/index.ts';

export const fixtureDir = fileURLToPath(new URL('../fixtures/bpf/', import.meta.url));

export interface Fixtures { dir: string; swap: string; reject: string; cleanup(): void }

/** Compile xdp_swap.bpf.c and xdp_reject.bpf.c; cleanup() removes the directory. */
export function buildFixtures(): Fixtures {
  const dir = mkdtempSync(join(tmpdir(), 'pt-xdp-'));
  const multiarch = execFileSync('cc', ['-print-multiarch'], { encoding: 'utf8' }).trim();
  const out = (name: string) => {
    const o = join(dir, `${name}.bpf.o`);
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', `-I/usr/include/${multiarch}`, '-c', join(fixtureDir, `${name}.bpf.c`), '-o', o],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    return o;
  };
  return { dir, swap: out('xdp_swap'), reject: out('xdp_reject'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `ip ...args`, throwing with ip's stderr on failure. */
export function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A short unique tag for this test process (namespaces, pin directories). */
export const tag = `x${process.pid.toString(36)}`;

/** Number of open fds of this process. */
export const openFds = (): number => readdirSync('/proc/self/fd').length;

/** An Ethernet frame: dst, src, ethertype 0x0800 and `payload` bytes of 0xab. */
export function frame(dst: string, src: string, payload = 50): Buffer {
  const mac = (s: string) => Buffer.from(s.split(':').map((h) => parseInt(h, 16)));
  return Buffer.concat([mac(dst), mac(src), Buffer.from([0x08, 0x00]), Buffer.alloc(payload, 0xab)]);
}

/** TypeScript layouts of test/fixtures/bpf/xdp_test_shared.h (checked against it by xdp-layout.test.ts). */
export const counterLayout = struct('pt_test_counters', { packets: 'u64', bytes: 'u64' });
export const flowKeyLayout = struct('pt_test_flow_key', { saddr: 'ipv4', daddr: 'ipv4', sport: 'be16', dport: 'be16', proto: 'u8', pad: pad(3) });
export const mixedLayout = struct('pt_test_mixed', {
  kind: 'u8', stamp: 'u64', port: 'u16', addr6: 'ipv6', mac: 'mac', c: counterLayout, ids: array('u32', 3),
});
export const sharedTestHeader = join(fixtureDir, 'xdp_test_shared.h');

/** The BpfError thrown by fn (fails the test when fn does not throw one). */
export function bpfErrorOf(fn: () => unknown): BpfError {
  try { fn(); } catch (e) {
    assert.ok(isBpfError(e), `expected a BpfError, got ${String(e)}`);
    return e as BpfError;
  }
  assert.unreachable('expected a BpfError');
  throw new Error('unreachable');
}

/**
 * Loads bpf/build objects under one pin root (shared maps, as on an edge) for a test file; `close()` in
 * test.after closes them and removes the pins.
 * Example: `const bpf = bpfLoader('ptb2'); const lan = bpf.load(M.PROGRAMS.lanXdp.object); test.after(bpf.close);`
 */
export function bpfLoader(prefix: string): { pinRoot: string; load(object: string): BpfObject; close(): void } {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const pinRoot = `/sys/fs/bpf/patronus/${prefix}-${process.pid}`;
  const objs: BpfObject[] = [];
  return {
    pinRoot,
    load(object) {
      const o = BpfObject.open(`${root}bpf/build/${object}`, { pinRoot });
      objs.push(o);
      o.load();
      return o;
    },
    close() {
      for (const o of objs.splice(0)) o.close();
      rmSync(pinRoot, { recursive: true, force: true });
    },
  };
}

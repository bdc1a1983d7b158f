// Helpers for the BGP tests: annotated hex fixtures under testdata/bgp/ and a JSON view of decoded messages.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

export const fixtureDir = 'testdata/bgp/fixtures';

/** Bytes of an annotated hex file: `#` starts a comment, whitespace is ignored. */
export function loadHex(path: string): Uint8Array {
  const hex = readFileSync(path, 'utf8').split('\n').map((l) => l.replace(/#.*/, '').replace(/\s+/g, '')).join('');
  if (!/^([0-9a-f]{2})*$/i.test(hex)) throw new Error(`${path}: not an even run of hex digits`);
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

export const fixture = (name: string) => loadHex(join(fixtureDir, `${name}.hex`));
export const fixtureNames = () => readdirSync(fixtureDir).filter((f) => f.endsWith('.hex')).map((f) => f.slice(0, -4)).sort();

/** Plain JSON with byte arrays as hex strings, for deep comparisons. */
export const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v)));
export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

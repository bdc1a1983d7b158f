/** Canonical JSON and content addressing for bundles (and anything else that must hash the same everywhere). */
import { createHash } from 'node:crypto';

/** JSON with object keys sorted recursively and no whitespace; `undefined` members are dropped. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`canonicalJson: non-finite number ${v}`);
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  const keys = Object.keys(v).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** sha256 (hex) of the canonical JSON of `v`. */
export const contentHash = (v: unknown) => createHash('sha256').update(canonicalJson(v)).digest('hex');

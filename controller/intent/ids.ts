/** Deterministic id assignment shared by the checks and the resolver. */

/**
 * Ids for `names`: explicit ids are kept, the others get the lowest free ids from `first` upwards in sorted
 * name order. Duplicated explicit ids keep the first holder in sorted order (the checks report the rest).
 * Example: assignIds({b: undefined, a: undefined, c: 1}, 1) → {a: 2, b: 3, c: 1}.
 */
export function assignIds(explicit: Record<string, number | undefined>, first: number): Record<string, number> {
  const names = Object.keys(explicit).sort();
  const taken = new Set(names.map((n) => explicit[n]).filter((v): v is number => v !== undefined));
  const out: Record<string, number> = {};
  let next = first;
  for (const n of names) {
    const id = explicit[n];
    if (id !== undefined) { out[n] = id; continue; }
    while (taken.has(next)) next++;
    out[n] = next++;
  }
  return out;
}

/** "a, b, c" sorted, or "none" — for the `(known: …)` part of messages. */
export const known = (names: Iterable<string>) => [...names].sort().join(', ') || 'none';

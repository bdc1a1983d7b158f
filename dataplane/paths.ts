/** Where the Patronus package lives on disk, found the same way from sources (tsx) and from dist/ bundles. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The folder whose package.json is named "patronus", searched upwards from this module. */
export function packageRoot(): string {
  if (root) return root;
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(d, 'package.json');
    if (existsSync(pj) && JSON.parse(readFileSync(pj, 'utf8')).name === 'patronus') return (root = d);
    const up = dirname(d);
    if (up === d) throw new Error('cannot find the patronus package root (a package.json named "patronus")');
    d = up;
  }
}

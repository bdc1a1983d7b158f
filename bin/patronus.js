#!/usr/bin/env node
// Launcher for the `patronus` CLI: runs the plain-JavaScript bundle built by `npm run setup`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const bundle = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'patronus.js');
if (!existsSync(bundle)) {
  process.stderr.write(`patronus: ${bundle} is missing; run "npm run setup" first\n`);
  process.exit(3);
}
await import(pathToFileURL(bundle).href);

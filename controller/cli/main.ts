/** Entry point of the `patronus` CLI bundle (dist/patronus.js). */
import { runCli } from './cli.ts';
import './intent.ts'; // registers `intent` and `token`
import './controller.ts'; // registers `controller`
import './promote.ts'; // registers `promote`, `approve` and `abort`
import './analytics.ts'; // registers `analytics`

// `patronus … | head`: the reader went away; stop quietly instead of dying on an unhandled EPIPE.
for (const out of [process.stdout, process.stderr]) out.on('error', (e: NodeJS.ErrnoException) => { if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0); else throw e; });

process.exitCode = await runCli(process.argv.slice(2));

/** Entry point of the `patronus` CLI bundle (dist/patronus.js). */
import { runCli } from './cli.ts';
import './intent.ts'; // registers `intent` and `token`
import './controller.ts'; // registers `controller`
import './promote.ts'; // registers `promote`, `approve` and `abort`
import './analytics.ts'; // registers `analytics`

process.exitCode = await runCli(process.argv.slice(2));

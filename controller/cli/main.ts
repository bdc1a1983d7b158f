/** Entry point of the `patronus` CLI bundle (dist/patronus.js). */
import { runCli } from './cli.ts';

process.exitCode = await runCli(process.argv.slice(2));

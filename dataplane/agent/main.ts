/**
 * Entry point of the edge agent bundle (dist/edge.js): `node dist/edge.js [options]`, the same as
 * `patronus edge [options]`.
 */
import { runAgentCli } from './cli.ts';

process.exitCode = await runAgentCli(process.argv.slice(2));

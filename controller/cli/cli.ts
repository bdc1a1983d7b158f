/**
 * The `patronus` command line: a registry of sub-commands. Exit codes: 0 pass, 1 fail, 2 bad input,
 * 3 twin not trustworthy.
 */
import { isInputError } from '../../dataplane/index.ts';
import { runAgentCli } from '../../dataplane/agent/cli.ts';
import { isTwinError } from '../../twin/index.ts';
import { runDemo } from './demo.ts';
import { runTwin } from './twin.ts';
import { runBgp } from './bgp.ts';
import { runScenarioCli, runVerifyCli } from './scenario.ts';

/** One sub-command: `patronus <name> ...`. */
export interface Command {
  name: string;
  summary: string;
  run(argv: string[]): Promise<number>;
}

const commands = new Map<string, Command>();

/** Register a sub-command; a duplicate name is a programming error. */
export function registerCommand(c: Command): void {
  if (commands.has(c.name)) throw new Error(`command "${c.name}" is already registered`);
  commands.set(c.name, c);
}

registerCommand({ name: 'twin', summary: 'bring labs up and down on the twin, inspect, exec, cut links', run: runTwin });
registerCommand({ name: 'demo', summary: 'two-site-dual-wan on the netns twin: up, status, cross-site ping, down', run: runDemo });
registerCommand({ name: 'edge', summary: 'run the edge agent', run: runAgentCli });
registerCommand({ name: 'bgp', summary: 'BGP neighbours and routes of an edge agent in a lab', run: runBgp });
registerCommand({ name: 'scenario', summary: 'run what-if scenarios on the twin, query their DuckDB telemetry', run: runScenarioCli });
registerCommand({ name: 'verify', summary: 'the CI gate: an intent against a suite of scenarios (Markdown, JSON, JUnit)', run: runVerifyCli });

function usage(): string {
  const rows = [...commands.values()].map((c) => `  ${c.name.padEnd(10)} ${c.summary}`);
  return `usage: patronus <command> [options]\n\ncommands:\n${rows.join('\n')}\n`;
}

/** Run the CLI with `argv` (without node and script); returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const cmd = commands.get(name);
  if (!cmd) {
    process.stderr.write(`patronus: unknown command "${name}" (known: ${[...commands.keys()].join(', ')})\n`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (isInputError(e)) {
      process.stderr.write(`${e.message}\n`);
      return e.exitCode;
    }
    if (isTwinError(e)) {
      process.stderr.write(`patronus ${name}: ${e.message}\n`);
      return 1;
    }
    // Anything else is a failure of the operation, not of the CLI: one line, the stack only on request.
    process.stderr.write(`patronus ${name}: ${(e as Error).message ?? e}\n`);
    if (process.env.PATRONUS_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    return 1;
  }
}

/** Command-line front of the edge agent (`patronus edge`). */
export async function runAgentCli(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write('usage: patronus edge --node NAME --state-dir DIR [--socket PATH]\n');
    return 0;
  }
  process.stderr.write('patronus edge: not implemented yet\n');
  return 1;
}

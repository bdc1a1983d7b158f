/** Bad command lines: one error class for the sub-commands, and the test that also knows node:util's parseArgs errors. */

/** A command line the sub-command cannot run (exit 2 with its usage). */
export class UsageError extends Error {}

/** True for a UsageError or a parseArgs error (code ERR_PARSE_ARGS_*); false for anything else, e.g. an error with a numeric exit `code`. */
export function isUsageError(e: unknown): boolean {
  if (e instanceof UsageError) return true;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

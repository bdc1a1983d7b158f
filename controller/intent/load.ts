/**
 * Reading an intent: YAML text → templates expanded → structural schema → cross-reference checks →
 * resolved {@link Intent}. Each stage that finds problems throws one {@link InputError} listing all of
 * them, each naming the file, the key path, the line when known and what was expected, e.g.
 *
 *   intents/acme.yaml:42: rules[2].sla: SLA class "vioce" is not defined (known: bulk, voice)
 */
import { InputError, parseYaml, readYamlFile, zodIssues, type InputIssue, type SourceDoc } from '../../dataplane/validate.ts';
import { checkIntent } from './check.ts';
import { resolveIntent } from './resolve.ts';
import { IntentDocument, type Intent } from './schema.ts';
import { expandTemplates } from './templates.ts';

function fail(file: string, issues: InputIssue[], src?: SourceDoc): never {
  throw new InputError(file, issues.map((i) => ({ ...i, line: i.line ?? src?.lineOf(i.path) })));
}

/**
 * Validate and resolve already-parsed intent data (e.g. from JSON or an API request).
 * `file` names the source in messages; `src` adds line numbers.
 * @throws InputError when the data is not a valid intent.
 */
export function validateIntent(data: unknown, file: string, src?: SourceDoc): Intent {
  const expanded = expandTemplates(data);
  if (expanded.issues.length) fail(file, expanded.issues, src);
  const parsed = IntentDocument.safeParse(expanded.data);
  if (!parsed.success) {
    // An unknown key is reported on its parent; its own line is where the reader has to look.
    const lines = parsed.error.issues.map((iss) => (iss.code === 'unrecognized_keys' && iss.keys[0] !== undefined
      ? src?.lineOf([...iss.path.filter((p): p is string | number => typeof p !== 'symbol'), iss.keys[0]]) : undefined));
    fail(file, zodIssues(parsed.error, src).map((i, n) => ({ ...i, line: lines[n] ?? i.line })), src);
  }
  const doc = parsed.data;
  const issues = checkIntent(doc);
  if (issues.length) fail(file, issues, src);
  return resolveIntent(doc);
}

/**
 * Parse intent YAML text. Example: `parseIntent(readFileSync(f, 'utf8'), f)`.
 * @throws InputError on YAML syntax errors and invalid intents.
 */
export function parseIntent(text: string, file: string): Intent {
  const src = parseYaml(text, file);
  return validateIntent(src.data, file, src);
}

/**
 * Read and resolve an intent file. Example: `loadIntent('labs/two-site-dual-wan/intent.yaml')`.
 * @throws InputError when the file is unreadable, malformed or invalid.
 */
export function loadIntent(file: string): Intent {
  const src = readYamlFile(file);
  return validateIntent(src.data, file, src);
}

/**
 * The bundle's `wanopt` section from the intent's: application class names resolved to the class ids the
 * classifier gives them (the LAN program hands those classes to the local stack), service ports, and FEC
 * parameters per class. The same on every edge. An intent without WAN-opt classes and FEC compiles to `{}`.
 */
import type { Bundle } from '../../dataplane/bundle/index.ts';
import { InputError, type InputIssue } from '../../dataplane/validate.ts';
import { known } from '../intent/ids.ts';
import type { Intent } from '../intent/index.ts';

/**
 * Build the section; rules of `rules` that carry each class are checked so the operator learns when a
 * class will never be steered (warning).
 * Example: `buildWanopt(intent, 'intent.yaml', warnings)` → `{ interceptPort: 7770, …, classes: [{ appClass: 'bulk', classId: 2 }] }`.
 * @throws InputError (intent file) naming `wanopt.classes[i]` or `wanopt.fec.<name>` for an unknown class.
 */
export function buildWanopt(intent: Intent, intentFile: string, warnings: string[]): Bundle['wanopt'] {
  const w = intent.wanopt;
  const issues: InputIssue[] = [];
  const names = Object.keys(intent.appClasses);
  const classId = (name: string, path: (string | number)[]) => {
    const c = intent.appClasses[name];
    if (!c) issues.push({ path, message: `application class "${name}" is not defined (known: ${known(names)})` });
    return c?.id ?? 0;
  };
  const classes = w.classes.map((appClass, i) => ({ appClass, classId: classId(appClass, ['wanopt', 'classes', i]) }));
  const fec = Object.entries(w.fec).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([appClass, f]) => {
    return { appClass, classId: classId(appClass, ['wanopt', 'fec', appClass]), k: f.k, m: f.m, holdMs: f.holdMs, interleave: f.interleave };
  });
  if (issues.length) throw new InputError(intentFile, issues);
  if (!classes.length && !fec.length) return {};
  for (const c of [...classes, ...fec]) {
    if (!intent.rules.some((r) => r.app === c.appClass && r.service !== 'direct-internet')) {
      warnings.push(`wanopt: application class ${c.appClass} has no overlay rule, so its traffic is never steered and never reaches WAN-opt`);
    }
  }
  return { interceptPort: w.ports.intercept, sessionPort: w.ports.session, fecPort: w.ports.fec, classes, fec };
}

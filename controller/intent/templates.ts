/**
 * Site templates: `templates.<name>` is a partial site whose strings may hold `${var}` placeholders and
 * which declares the names it uses in `variables`. A site with `template: <name>` and `vars: {...}` gets the
 * template deep-merged under its own fields (maps merge key by key, the site's lists and scalars win), then
 * every placeholder is replaced. A string that is exactly one placeholder takes the value with its type
 * (`id: ${id}` with `vars: {id: 7}` gives the number 7); elsewhere the value is spliced in as text.
 *
 * This runs on the raw YAML data before the structural schema, so the expanded sites are validated like
 * hand-written ones. Example:
 *
 *   templates:
 *     branch: { variables: [n], lanPrefixes: ["10.${n}.0.0/24"] }
 *   sites:
 *     b1: { template: branch, vars: { n: 1 } }     # → lanPrefixes: [10.1.0.0/24]
 */
import type { InputIssue } from '../../dataplane/validate.ts';
import { formatPath, zodIssues } from '../../dataplane/validate.ts';
import { known as list } from './ids.ts';
import { TemplateSpec } from './schema.ts';

type Path = (string | number)[];
type Plain = Record<string, unknown>;

const PLACEHOLDER = /\$\{([^}]*)\}/g;
const WHOLE = /^\$\{([^}]*)\}$/;

const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Template deep-merged under `over`: maps merge recursively, anything else in `over` wins. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (!isPlain(base) || !isPlain(over)) return over;
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
  return out;
}

/** Every `${name}` placeholder in `v`, with the key path of the string holding it. */
function placeholders(v: unknown, path: Path, out: { name: string; path: Path }[] = []) {
  if (typeof v === 'string') for (const m of v.matchAll(PLACEHOLDER)) out.push({ name: m[1]!.trim(), path });
  else if (Array.isArray(v)) v.forEach((x, i) => placeholders(x, [...path, i], out));
  else if (isPlain(v)) for (const [k, x] of Object.entries(v)) placeholders(x, [...path, k], out);
  return out;
}

/** `v` with every placeholder replaced; `vars` must hold every name used (checked by the caller). */
function substitute(v: unknown, vars: Plain): unknown {
  if (typeof v === 'string') {
    const whole = WHOLE.exec(v);
    if (whole) return vars[whole[1]!.trim()];
    return v.replace(PLACEHOLDER, (_, n: string) => String(vars[n.trim()]));
  }
  if (Array.isArray(v)) return v.map((x) => substitute(x, vars));
  if (isPlain(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, substitute(x, vars)]));
  return v;
}

/**
 * Expand every site's template in raw intent data. Returns the new data (the input is not changed) and
 * the problems found, each with a key path into the file: unknown templates, variables used but not
 * declared, declared but not set, set but not declared. Sections that are not maps are left for the
 * structural schema to report.
 */
export function expandTemplates(data: unknown): { data: unknown; issues: InputIssue[] } {
  const issues: InputIssue[] = [];
  if (!isPlain(data)) return { data, issues };
  const rawTemplates = isPlain(data.templates) ? data.templates : {};
  const templates = new Map<string, { variables: Set<string>; fields: Plain }>();

  for (const [name, raw] of Object.entries(rawTemplates)) {
    const r = TemplateSpec.safeParse(raw);
    if (!r.success) {
      issues.push(...zodIssues(r.error).map((i) => ({ ...i, path: ['templates', name, ...i.path] })));
      continue;
    }
    const variables = new Set(r.data.variables);
    const { variables: _declared, ...fields } = raw as Plain;
    for (const p of placeholders(fields, ['templates', name])) {
      if (!variables.has(p.name)) {
        issues.push({ path: p.path, message: `variable "${p.name}" is not declared in templates.${name}.variables (declared: ${list(variables)})` });
      }
    }
    templates.set(name, { variables, fields });
  }

  if (!isPlain(data.sites)) return { data, issues };
  const sites: Plain = {};
  for (const [siteName, site] of Object.entries(data.sites)) {
    sites[siteName] = site;
    if (!isPlain(site)) continue;
    const here: Path = ['sites', siteName];
    if (site.template === undefined) {
      if (site.vars !== undefined) issues.push({ path: [...here, 'vars'], message: 'vars need a template: set template: <name>' });
      continue;
    }
    if (typeof site.template !== 'string') continue; // the schema reports the type
    const tpl = templates.get(site.template);
    if (!tpl) {
      if (!(site.template in rawTemplates)) {
        issues.push({ path: [...here, 'template'], message: `template "${site.template}" is not defined (known: ${list(Object.keys(rawTemplates))})` });
      }
      continue;
    }
    const vars: Plain = isPlain(site.vars) ? site.vars : {};
    for (const k of Object.keys(vars)) {
      if (!tpl.variables.has(k)) {
        issues.push({ path: [...here, 'vars', k], message: `variable "${k}" is not declared by template "${site.template}" (declared: ${list(tpl.variables)})` });
      }
    }
    const { template, vars: _vars, ...own } = site;
    const merged = deepMerge(tpl.fields, own) as Plain;
    let ok = true;
    for (const p of placeholders(merged, here)) {
      if (!tpl.variables.has(p.name)) {
        // Undeclared names inside the template itself were reported at the template already.
        if (placeholders(own, here).some((q) => q.name === p.name)) {
          issues.push({ path: p.path, message: `variable "${p.name}" is not declared by template "${site.template}" (declared: ${list(tpl.variables)})` });
        }
        ok = false;
      } else if (!(p.name in vars)) {
        issues.push({ path: p.path, message: `variable "${p.name}" of template "${site.template}" is not set (set it in ${formatPath([...here, 'vars'])})` });
        ok = false;
      }
    }
    if (ok) sites[siteName] = { ...(substitute(merged, vars) as Plain), template, ...(site.vars === undefined ? {} : { vars: site.vars }) };
  }
  return { data: { ...data, sites }, issues };
}

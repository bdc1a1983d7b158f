import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseIntent } from '../../controller/index.ts';
import { expandTemplates } from '../../controller/intent/index.ts';
import { compileText, errorOf, fixture } from './fixtures.ts';

test('three sites expand from one template with their own variables', () => {
  const f = fixture('templates');
  const intent = parseIntent(f.intentText, f.intentFile);
  assert.equal(Object.values(intent.sites).map((s) => [s.name, s.id, s.region, s.lanPrefixes, s.description, s.template]), [
    ['b1', 101, 'north', { default: ['10.11.0.0/24'] }, 'Branch 1', 'branch'],
    ['b2', 102, 'north', { default: ['10.12.0.0/24'] }, 'Branch 2', 'branch'],
    ['b3', 103, 'south', { default: ['10.13.0.0/24'] }, 'Branch 3 (with LTE)', 'branch'],
  ]);
});

test('a templated network compiles to a full mesh with the template values in the bundles', () => {
  const f = fixture('templates');
  const { bundles } = compileText(f.intentText, f.inventory);
  assert.equal([...bundles.keys()], ['b1-edge', 'b2-edge', 'b3-edge']);
  const b1 = bundles.get('b1-edge')!.bundle;
  assert.is(b1.siteId, 101);
  assert.equal(b1.paths.map((p) => [p.peerNode, p.transport, p.remoteTransport, p.role]), [
    ['b2-edge', 'inet', 'inet', 'active'], ['b3-edge', 'inet', 'inet', 'active'], ['b3-edge', 'inet', 'lte', 'backup'],
  ]);
});

test('a site\'s own fields override the template, maps merge key by key', () => {
  const { data, issues } = expandTemplates({
    templates: { t: { variables: ['n'], role: 'spoke', lanPrefixes: { default: ['10.${n}.0.0/24'], guest: ['192.168.${n}.0/24'] } } },
    sites: { a: { template: 't', vars: { n: 7 }, role: 'hub', lanPrefixes: { guest: ['172.16.7.0/24'] } } },
  });
  assert.equal(issues, []);
  assert.equal((data as { sites: unknown }).sites, {
    a: { role: 'hub', lanPrefixes: { default: ['10.7.0.0/24'], guest: ['172.16.7.0/24'] }, template: 't', vars: { n: 7 } },
  });
});

const base = `apiVersion: patronus.dev/v1
name: t
templates:
  branch:
    variables: [n]
    lanPrefixes: ["10.\${n}.0.0/24"]
`;

test('a variable left unset names the site, the key path and the template', () => {
  const msg = errorOf(() => parseIntent(`${base}sites:\n  b1: { template: branch }\n`, 'i.yaml'));
  assert.is(msg, 'i.yaml:8: sites.b1.lanPrefixes[0]: variable "n" of template "branch" is not set (set it in sites.b1.vars)');
});

test('a variable a template uses but does not declare is an error at the template', () => {
  const text = base.replace('lanPrefixes: ["10.${n}.0.0/24"]', 'lanPrefixes: ["10.${n}.${m}.0/24"]');
  const msg = errorOf(() => parseIntent(`${text}sites:\n  b1: { template: branch, vars: { n: 1 } }\n`, 'i.yaml'));
  assert.is(msg, 'i.yaml:6: templates.branch.lanPrefixes[0]: variable "m" is not declared in templates.branch.variables (declared: n)');
});

test('a site setting a variable the template does not declare is an error naming the site', () => {
  const msg = errorOf(() => parseIntent(`${base}sites:\n  b1: { template: branch, vars: { n: 1, x: 2 } }\n`, 'i.yaml'));
  assert.is(msg, 'i.yaml:8: sites.b1.vars.x: variable "x" is not declared by template "branch" (declared: n)');
});

test('an unknown template is a dangling reference', () => {
  const msg = errorOf(() => parseIntent(`${base}sites:\n  b1: { template: brnch, vars: { n: 1 } }\n`, 'i.yaml'));
  assert.is(msg, 'i.yaml:8: sites.b1.template: template "brnch" is not defined (known: branch)');
});

test('an expanded value that is invalid is reported at the site that used the template', () => {
  const msg = errorOf(() => parseIntent(`${base}sites:\n  b1: { template: branch, vars: { n: 300 } }\n`, 'i.yaml'));
  assert.is(msg, 'i.yaml:8: sites.b1.lanPrefixes[0]: expected a prefix like "10.1.0.0/24" (host bits zero)');
});

test.run();

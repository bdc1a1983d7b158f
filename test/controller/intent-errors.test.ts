import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isInputError, type InputError } from '../../dataplane/validate.ts';
import { loadIntent, parseIntent } from '../../controller/index.ts';
import { edit, errorOf } from './fixtures.ts';

// Line numbers below refer to this text (line 1 is apiVersion).
const base = `apiVersion: patronus.dev/v1
name: t
transports:
  mpls: { type: private, restrict: true }
  inet: {}
sites:
  s1: { lanPrefixes: [10.1.0.0/24] }
  s2: { lanPrefixes: [10.2.0.0/24] }
topology: { policy: full-mesh }
slaClasses:
  voice: { latency: 150ms, jitter: 30ms, loss: 1% }
appClasses:
  voip: { match: [{ protocol: udp, ports: "16384-32767", dscp: ef }] }
rules:
  - { name: voice, app: voip, sla: voice, paths: { preferred: [mpls, inet] } }
  - { name: rest, app: default, paths: { preferred: [mpls, inet] } }
`;

/** The message for the base intent with one edit. */
const err = (from: string, to: string) => errorOf(() => parseIntent(edit(base, from, to), 'i.yaml'));

test('the base intent of these tests is valid', () => {
  assert.is(parseIntent(base, 'i.yaml').name, 't');
});

test('malformed YAML is an InputError with file and line, exit code 2', () => {
  try {
    parseIntent(edit(base, 'rules:', 'rules: ['), 'i.yaml');
    assert.unreachable();
  } catch (e) {
    assert.ok(isInputError(e));
    assert.is((e as InputError).exitCode, 2);
    assert.match((e as Error).message, /^i\.yaml:15: \(top level\): YAML syntax: /);
  }
});

test('a duplicated key in the YAML (a site defined twice) is an error, not a silent overwrite', () => {
  assert.is(err('s2:', 's1:'), 'i.yaml:8: (top level): YAML syntax: Map keys must be unique');
});

test('an unreadable file names the file', () => {
  assert.match(errorOf(() => loadIntent('/nonexistent/intent.yaml')), /^\/nonexistent\/intent\.yaml: \(top level\): cannot read file: /);
});

test('loadIntent reads a file and reports errors with its path and line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'intent-'));
  try {
    const file = join(dir, 'intent.yaml');
    writeFileSync(file, edit(base, 'sla: voice', 'sla: vioce'));
    assert.is(errorOf(() => loadIntent(file)), `${file}:15: rules[0].sla: SLA class "vioce" is not defined (known: voice)`);
    writeFileSync(file, base);
    assert.is(loadIntent(file).rules.length, 2);
  } finally { rmSync(dir, { recursive: true, force: true }); }
});

test('unknown keys are errors at the line of the key, nested or at the top level', () => {
  assert.is(err('inet: {}', 'inet: { latency: 3 }'), 'i.yaml:5: transports.inet: unknown key "latency"');
  assert.is(err('topology:', 'topolgy:'), 'i.yaml:9: (top level): unknown key "topolgy"');
});

test('a wrong apiVersion says which one is expected', () => {
  assert.is(err('apiVersion: patronus.dev/v1', 'apiVersion: v2'), 'i.yaml:1: apiVersion: expected "patronus.dev/v1"');
});

test('dangling references from rules list what is defined', () => {
  assert.is(err('app: voip', 'app: vioce'), 'i.yaml:15: rules[0].app: app class "vioce" is not defined (known: default, voip)');
  assert.is(err('app: voip, sla: voice', 'app: voip, sla: voice, qos: gold, segment: corp'), [
    'i.yaml:15: rules[0].segment: segment "corp" is not defined (known: default)',
    'i.yaml:15: rules[0].qos: QoS class "gold" is not defined (known: none)',
  ].join('\n'));
  assert.is(err('[mpls, inet] } }\n  - { name: rest', '[mpls, lte] } }\n  - { name: rest'),
    'i.yaml:15: rules[0].paths.preferred[1]: transport "lte" is not defined (known: inet, mpls)');
});

test('dangling references from the topology and from LAN prefixes', () => {
  assert.is(err('{ policy: full-mesh }', '{ hubs: [hq] }'), 'i.yaml:9: topology.hubs[0]: site "hq" is not defined (known: s1, s2)');
  assert.is(err('s2: { lanPrefixes: [10.2.0.0/24] }', 's2: { lanPrefixes: { guest: [10.2.0.0/24] } }'),
    'i.yaml:8: sites.s2.lanPrefixes.guest: segment "guest" is not defined (known: default)');
  assert.is(err('{ policy: full-mesh }', '{ policy: hub-spoke }'),
    'i.yaml:9: topology.policy: hub-spoke needs at least one hub: give a site role: hub or list it in topology.hubs (or use policy full-mesh)');
});

test('a site with role hub that topology.hubs leaves out is an error', () => {
  const text = edit(edit(base, '{ policy: full-mesh }', '{ hubs: [s2] }'), 's1: { lanPrefixes', 's1: { role: hub, lanPrefixes');
  assert.is(errorOf(() => parseIntent(text, 'i.yaml')), 'i.yaml:7: sites.s1.role: site has role hub but is not in topology.hubs (s2); add it there or make it a spoke');
});

test('duplicate ids and names are errors naming the first holder', () => {
  assert.is(err('s1: { lanPrefixes: [10.1.0.0/24] }\n  s2: { lanPrefixes', 's1: { id: 2, lanPrefixes: [10.1.0.0/24] }\n  s2: { id: 2, lanPrefixes'),
    'i.yaml:8: sites.s2.id: id 2 is already used by site "s1"');
  assert.is(err('sites:', 'segments: { corp: { id: 5 }, guest: { id: 5 } }\nsites:'), 'i.yaml:6: segments.guest.id: id 5 is already used by segment "corp"');
  assert.is(err('sites:', 'segments: { corp: { id: 1 } }\nsites:'),
    'i.yaml:6: segments.corp.id: id 1 is already used by segment "default" (the built-in segment "default" has id 1 unless you declare it with another id)');
  assert.is(err('appClasses:', 'appClasses:\n  video: { id: 3, match: [{ dscp: af41 }] }\n  web: { id: 3, match: [{ protocol: tcp, ports: [80, 443] }] }'),
    'i.yaml:14: appClasses.web.id: id 3 is already used by app class "video"');
  assert.is(err('name: rest', 'name: voice'), 'i.yaml:16: rules[1].name: rule name "voice" is already used by rules[0]');
  assert.is(err('appClasses:', 'appClasses:\n  default: { match: [{}] }'),
    'i.yaml:13: appClasses.default: "default" is the built-in class (id 0, matches all traffic); choose another name');
});

test('explicit site ids win and the others are assigned in name order around them', () => {
  const intent = parseIntent(edit(base, 's1: { lanPrefixes', 's1: { id: 1, lanPrefixes').replace('sites:\n', 'sites:\n  a0: { lanPrefixes: [10.0.0.0/24] }\n'), 'i.yaml');
  assert.equal(Object.values(intent.sites).map((s) => [s.name, s.id]), [['a0', 2], ['s1', 1], ['s2', 3]]);
});

test('bad units say what a good value looks like', () => {
  assert.is(err('latency: 150ms', 'latency: 150 msec'), 'i.yaml:11: slaClasses.voice.latency: expected a duration like "20ms", got "150 msec"');
  assert.is(err('loss: 1%', 'loss: 150%'), 'i.yaml:11: slaClasses.voice.loss: expected a percentage of at most 100%, got "150%"');
  assert.is(err('inet: {}', 'inet: { bandwidth: { up: fast, down: 10mbit } }'), 'i.yaml:5: transports.inet.bandwidth.up: expected a rate like "100mbit", got "fast"');
});

test('bad ports, DSCP values and prefixes name the entry', () => {
  assert.is(err('"16384-32767"', '[80, "32767-16384"]'),
    'i.yaml:13: appClasses.voip.match[0].ports[1]: expected a port 0–65535 like 443, "443" or a range "16384-32767", got "32767-16384"');
  assert.is(err('dscp: ef', 'dscp: eff'), 'i.yaml:13: appClasses.voip.match[0].dscp: expected a DSCP value 0–63 or a name like "ef", "af41", "cs3", got "eff"');
  assert.is(err('ports: "16384-32767"', 'ports: true'), 'i.yaml:13: appClasses.voip.match[0].ports: expected a port like 443 or a range "16384-32767", or a list of them');
  assert.is(err('protocol: udp, ', ''), 'i.yaml:13: appClasses.voip.match[0].ports: ports need protocol tcp or udp (protocol is any)');
  assert.is(err('[10.2.0.0/24]', '[10.2.0.1/24]'), 'i.yaml:8: sites.s2.lanPrefixes[0]: expected a prefix like "10.1.0.0/24" (host bits zero)');
  assert.is(err('sites:', 'sites:\n  "bad name": {}'),
    'i.yaml:7: sites["bad name"]: invalid name: expected a name of letters, digits, "_", "." or "-" (at most 63, starting with a letter or digit)');
});

test('overlapping prefixes within a segment are errors across sites and within one site', () => {
  assert.is(err('[10.2.0.0/24]', '[10.2.0.0/24, 10.1.0.128/25]'),
    'i.yaml:8: sites.s2.lanPrefixes[1]: prefix 10.1.0.128/25 overlaps 10.1.0.0/24 of site s1 (sites.s1.lanPrefixes[0]) in segment "default"; prefixes within a segment must not overlap');
  assert.is(err('[10.2.0.0/24]', '[10.2.0.0/24, 10.2.0.0/16]'),
    'i.yaml:8: sites.s2.lanPrefixes[1]: prefix 10.2.0.0/16 overlaps 10.2.0.0/24 of this site (sites.s2.lanPrefixes[0]) in segment "default"; prefixes within a segment must not overlap');
});

test('the same prefix in two different segments is fine (segments are separate routing tables)', () => {
  const text = edit(base, 's2: { lanPrefixes: [10.2.0.0/24] }', 's2: { lanPrefixes: { default: [10.2.0.0/24], guest: [10.1.0.0/24] } }')
    .replace('sites:', 'segments: { guest: { id: 2 } }\nsites:');
  assert.equal(parseIntent(text, 'i.yaml').sites.s2!.lanPrefixes, { default: ['10.2.0.0/24'], guest: ['10.1.0.0/24'] });
});

test('every problem of a stage is reported at once', () => {
  const msg = err('app: voip, sla: voice', 'app: nope, sla: nope');
  assert.is(msg.split('\n').length, 2);
});

test.run();

// timeout: 60
/**
 * containerlab export: every lab in labs/ (and labs with NAT, clocks and impairments) exports to a
 * topology valid against containerlab's own JSON Schema (test/fixtures/clab.schema.json, draft-07), using
 * only keys that schema knows; impairments land in a netem script; deploy without containerlab says what to do.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { clabTopology, exportClab, getProvider, loadLab, netemScript, parseLab, UnsupportedError } from '../../twin/index.ts';
import { onPath } from '../../twin/providers/containerlab/index.ts';

const schema = JSON.parse(readFileSync('test/fixtures/clab.schema.json', 'utf8'));
// strict: false because the schema carries VS Code's `markdownDescription` keyword.
const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addSchema(schema, 'clab');
const validTopology = ajv.getSchema('clab')!;
const validVeth = ajv.getSchema('clab#/definitions/link-type-veth')!;
const errors = (v: { errors?: unknown }) => JSON.stringify(v.errors, null, 1);

const labFiles = readdirSync('labs', { withFileTypes: true }).filter((d) => d.isDirectory() && existsSync(join('labs', d.name, 'lab.yaml'))).map((d) => join('labs', d.name, 'lab.yaml'));
const tmp = mkdtempSync(join(tmpdir(), 'pt-clab-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const extraLab = parseLab(`name: nat-clock-impair
topology:
  nodes:
    e1: { kind: edge, site: s1, clock: { offset: 150ms, drift: 50 } }
    srv: { kind: host, gateway: 198.51.100.5 }
    r1: { kind: router, router: { daemon: frr, asn: 65001 } }
    inet: { kind: wan, wan: { mode: routed, subnet: 198.51.100.0/24 } }
    lte: { kind: wan, wan: { mode: routed, subnet: 10.200.0.0/24, nat: cgn, outside: [up0] } }
  links:
    - endpoints: ["e1:wan0", "lte:p1"]
      impair: { delay: 30ms, jitter: 5ms, loss: 0.5%, rate: 20mbit }
    - endpoints: ["lte:up0", "inet:p1"]
    - endpoints: [{ node: srv, interface: eth0, impair: { loss: { model: gilbert-elliott, p: 1%, r: 25% } } }, "inet:p2"]
    - endpoints: ["e1:lan0", { node: r1, interface: eth0, ipv4: 10.1.0.1/24, mac: "02:00:00:00:00:01" }]
`, 'extra.yaml');

test('both labs in labs/ are found', () => {
  for (const l of ['two-site-dual-wan', 'bird-frr-ebgp']) assert.ok(labFiles.includes(join('labs', l, 'lab.yaml')), l);
});

for (const file of labFiles) {
  test(`${file} exports to a topology valid against containerlab's schema`, () => {
    const lab = loadLab(file);
    const { topology } = clabTopology(lab);
    assert.ok(validTopology(topology), errors(validTopology));
    const links = (topology.topology as { links?: unknown[] }).links ?? [];
    for (const l of links) assert.ok(validVeth(l), errors(validVeth));
    assert.is(links.length, lab.links.length);
  });
}

test('a lab with NAT, a clock, a router and impairments exports valid, with the agent clock and NAT in exec', () => {
  const { topology, files } = clabTopology(extraLab);
  assert.ok(validTopology(topology), errors(validTopology));
  const nodes = (topology.topology as { nodes: Record<string, { exec?: string[]; binds?: string[]; kind: string }> }).nodes;
  assert.equal(Object.keys(nodes).sort(), ['e1', 'inet', 'lte', 'lte-cgn', 'r1', 'srv']);
  assert.ok(Object.values(nodes).every((n) => n.kind === 'linux'));
  assert.match(nodes.e1!.exec!.join('\n'), /patronus edge --node e1 .*--clock-offset 150 --clock-drift 50/);
  assert.match(nodes.lte!.exec!.join('\n'), /masquerade/);
  assert.match(nodes.srv!.exec!.join('\n'), /ip route replace default via 198\.51\.100\.5/);
  assert.equal(nodes.r1!.binds, ['config/r1/zebra.conf:/etc/patronus/zebra.conf:ro', 'config/r1/bgpd.conf:/etc/patronus/bgpd.conf:ro']);
  assert.match(files.find((f) => f.path === 'config/r1/bgpd.conf')!.text, /router bgp 65001/);
});

test('impairments become containerlab tools netem calls per direction, with rate in kbit/s and loss in percent', () => {
  const s = netemScript(extraLab)!;
  assert.match(s, /containerlab tools netem set -n pt-nat-clock-impair-e1 -i wan0 --delay 30ms --jitter 5ms --loss 0\.5 --rate 20000\n/);
  assert.match(s, /containerlab tools netem set -n pt-nat-clock-impair-lte -i p1 --delay 30ms --jitter 5ms --loss 0\.5 --rate 20000\n/);
  // Gilbert–Elliott p=1%, r=25%: mean loss 0.01/0.26 = 3.846…%
  assert.match(s, /-n pt-nat-clock-impair-srv -i eth0 --loss 3\.846154\n/);
  assert.match(s, /gilbert-elliott loss exported as its mean/);
  assert.is(netemScript(loadLab('labs/bird-frr-ebgp/lab.yaml')), undefined);
});

test('patronus twin export writes <lab>.clab.yml (parsed back valid) and the netem script only when impaired', () => {
  const out = join(tmp, 'cli');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', 'twin', 'export', 'labs/bird-frr-ebgp/lab.yaml', '--format', 'clab', '--out', out], { encoding: 'utf8' });
  assert.is(r.status, 0, r.stderr);
  const doc = parse(readFileSync(join(out, 'bird-frr-ebgp.clab.yml'), 'utf8'));
  assert.ok(validTopology(doc), errors(validTopology));
  assert.ok(existsSync(join(out, 'config/r1/bird.conf')));
  assert.not.ok(existsSync(join(out, 'bird-frr-ebgp.netem.sh')));
  const written = exportClab(extraLab, join(tmp, 'api'));
  assert.ok(written.some((f) => f.endsWith('nat-clock-impair.netem.sh')));
});

test('patronus twin export without --format clab is bad input (exit 2) and writes nothing', () => {
  const out = join(tmp, 'bad');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'controller/cli/main.ts', 'twin', 'export', 'labs/bird-frr-ebgp/lab.yaml', '--format', 'gns3', '--out', out], { encoding: 'utf8' });
  assert.is(r.status, 2);
  assert.match(r.stderr, /--format clab/);
  assert.not.ok(existsSync(out));
});

test('deploy without the containerlab CLI fails clearly, naming --provider netns', async () => {
  if (onPath('containerlab')) { console.log('skip: containerlab is installed here, so deploy would really run'); return; }
  try {
    await getProvider('containerlab').deploy(loadLab('labs/bird-frr-ebgp/lab.yaml', { rename: `tclab${process.pid}` }));
    assert.unreachable();
  } catch (e) {
    assert.instance(e, UnsupportedError);
    assert.match((e as Error).message, /containerlab CLI is not installed/);
    assert.match((e as Error).message, /--provider netns/);
  }
  assert.not.ok(existsSync(`/run/patronus/tclab${process.pid}`), 'nothing was written');
});

test.run();

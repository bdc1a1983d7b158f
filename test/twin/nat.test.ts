// timeout: 120
/**
 * NAT on wan nodes: rules as pure data, bad input, and the real thing — a node echo server outside the
 * NATs reports the source address and port it saw for UDP and TCP from clients inside each kind of NAT.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { getProvider, parseLab, planLab, nsName, natRules } from '../../twin/index.ts';
import { isInputError } from '../../dataplane/index.ts';

const p = getProvider('netns');
const name = `tnat${process.pid}`;
const labText = (n: string) => `name: ${n}
topology:
  nodes:
    in1: { kind: host, gateway: 192.168.50.1 }
    in2: { kind: host, gateway: 192.168.50.5 }
    in3: { kind: host, gateway: 10.200.0.1 }
    in4: { kind: host, gateway: 192.168.60.1 }
    srv: { kind: host, gateway: 198.51.100.5 }
    inet:
      kind: wan
      wan: { mode: routed, subnet: 198.51.100.0/24 }
      # a route into home's inside space, so only the NAT's own filter keeps unsolicited traffic out
      routes: [{ dst: 192.168.50.0/24, via: 198.51.100.2 }]
    home: { kind: wan, wan: { mode: routed, subnet: 192.168.50.0/24, nat: port-preserving, outside: [up0] } }
    lte:  { kind: wan, wan: { mode: routed, subnet: 10.200.0.0/24, nat: symmetric, outside: [up0] } }
    cg:   { kind: wan, wan: { mode: routed, subnet: 192.168.60.0/24, nat: cgn, outside: [up0] } }
  links:
    - endpoints: ["in1:eth0", "home:p1"]
    - endpoints: ["in2:eth0", "home:p2"]
    - endpoints: ["home:up0", "inet:p1"]
    - endpoints: ["srv:eth0", "inet:p2"]
    - endpoints: ["in3:eth0", "lte:p1"]
    - endpoints: ["lte:up0", "inet:p3"]
    - endpoints: ["in4:eth0", "cg:p1"]
    - endpoints: ["cg:up0", "inet:p4"]
`;

// Echo server: answers every UDP datagram and TCP connection with the "address:port" it came from.
const ECHO = `
const dgram = require('node:dgram'), net = require('node:net');
for (const port of process.argv.slice(1).map(Number)) {
  const u = dgram.createSocket('udp4');
  u.on('message', (_m, r) => u.send(r.address + ':' + r.port, r.port, r.address));
  u.bind(port);
  net.createServer((s) => s.end(s.remoteAddress.replace('::ffff:', '') + ':' + s.remotePort)).listen(port);
}
setInterval(() => {}, 1 << 30);
`;
// Client: from a fixed local port, one UDP datagram (or TCP connection) per target; prints what each saw.
const CLIENT = `
const dgram = require('node:dgram'), net = require('node:net');
const [proto, lport, ...targets] = process.argv.slice(1);
(async () => {
  const seen = [];
  const u = proto === 'udp' ? dgram.createSocket('udp4') : undefined;
  if (u) await new Promise((r) => u.bind(Number(lport), r));
  for (const t of targets) {
    const [host, port] = t.split(':');
    seen.push(await new Promise((resolve) => {
      const timer = setTimeout(() => resolve('timeout'), 2000);
      if (u) { u.once('message', (m) => { clearTimeout(timer); resolve(String(m)); }); u.send('x', Number(port), host); }
      else {
        const s = net.connect({ host, port: Number(port), localPort: Number(lport) });
        let d = ''; s.on('data', (c) => { d += c; }); s.on('end', () => { clearTimeout(timer); resolve(d); }); s.on('error', (e) => { clearTimeout(timer); resolve('error ' + e.code); });
      }
    }));
    // TCP keeps the old connection in TIME_WAIT: the next connect from the same port needs SO_REUSEADDR, which
    // node sets on listening sockets only, so TCP clients use one target per run.
  }
  console.log(JSON.stringify(seen));
  process.exit(0);
})();
`;

const servers: ChildProcess[] = [];
function serve(node: string, ports: number[]) {
  const c = spawn('ip', ['netns', 'exec', nsName(name, node), process.execPath, '-e', ECHO, ...ports.map(String)], { stdio: 'ignore' });
  servers.push(c);
}
async function client(node: string, proto: 'udp' | 'tcp', lport: number, targets: string[]): Promise<string[]> {
  const r = await p.exec(name, node, [process.execPath, '-e', CLIENT, proto, String(lport), ...targets], { timeoutMs: 10_000 });
  assert.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as string[];
}
async function untilAnswers(node: string, target: string) {
  for (let i = 0; i < 50; i++) {
    if ((await client(node, 'udp', 0, [target]))[0] !== 'timeout') return;
  }
  throw new Error(`no echo server answering at ${target}`);
}

test.after(async () => {
  for (const s of servers) s.kill('SIGKILL');
  await p.destroy(name);
});

test('NAT rules: masquerade for port-preserving and cgn layers, masquerade random for symmetric, none without nat', () => {
  const lab = parseLab(labText('x'), 'nat.yaml');
  const rules = Object.fromEntries(planLab(lab).map((pl) => [pl.node, pl.nft ?? '']));
  assert.match(rules.home!, /iifname != \{ "up0" \} oifname \{ "up0" \} masquerade\n/);
  assert.match(rules.lte!, /oifname \{ "up0" \} masquerade random\n/);
  assert.match(rules.cg!, /oifname \{ "cgn0" \} masquerade\n/);
  assert.match(rules['cg-cgn']!, /oifname \{ "up0" \} masquerade\n/);
  assert.is(rules.inet, '');
  assert.is(natRules(lab.nodes.srv!), undefined);
});

test('cgn becomes two layers: the generated carrier node takes the outside link, a shared-space link joins them', () => {
  const lab = parseLab(labText('x'), 'nat.yaml');
  const carrier = lab.nodes['cg-cgn']!;
  assert.is(carrier.wan!.nat, 'port-preserving');
  assert.is(carrier.labels['patronus.dev/cgn-layer-of'], 'cg');
  const up = lab.links.find((l) => l.endpoints.some((e) => e.node === 'cg-cgn' && e.interface === 'up0'))!;
  assert.is(up.endpoints.find((e) => e.node === 'cg-cgn')!.ipv4, '198.51.100.14/30');
  const shared = lab.links.find((l) => l.endpoints.some((e) => e.interface === 'cgn0'))!;
  assert.equal(shared.endpoints.map((e) => e.ipv4), ['100.127.255.2/30', '100.127.255.1/30']);
  assert.is(lab.nodes.cg!.gateway, '100.127.255.1');
  assert.is(carrier.gateway, '198.51.100.13');
  assert.is(lab.nodes.home!.gateway, '198.51.100.1', 'a NAT node routes upstream by default');
});

test('NAT on a bridge cloud, a NAT without outside interfaces and an unknown outside interface are refused by key path', () => {
  const msg = (text: string) => { try { parseLab(text, 'labs/n.yaml'); } catch (e) { if (isInputError(e)) return e.message; throw e; } throw new Error('expected an InputError'); };
  const lab = (wan: string) => `name: n\ntopology:\n  nodes:\n    h: { kind: host }\n    w: { kind: wan, wan: ${wan} }\n  links:\n    - endpoints: ["h:eth0", "w:p1"]\n`;
  assert.match(msg(lab('{ subnet: 10.0.0.0/24, nat: symmetric, outside: [p1] }')), /labs\/n\.yaml.*topology\.nodes\.w\.wan\.nat.*mode: routed/s);
  assert.match(msg(lab('{ mode: routed, subnet: 10.0.0.0/24, nat: symmetric }')), /topology\.nodes\.w\.wan\.outside.*outside interfaces/s);
  assert.match(msg(lab('{ mode: routed, subnet: 10.0.0.0/24, nat: cgn, outside: [up9] }')), /outside interface "up9" of "w" is on no link/);
  assert.match(msg(lab('{ mode: routed, subnet: 10.0.0.0/24, nat: hairpin, outside: [p1] }')), /topology\.nodes\.w\.wan\.nat/);
});

test('deploys a lab with three kinds of NAT and an echo server outside', async () => {
  await p.deploy(parseLab(labText(name), 'nat.yaml'));
  serve('srv', [7001, 7002, 7003]);
  serve('cg-cgn', [7004]);
  await untilAnswers('srv', '127.0.0.1:7001');
  await untilAnswers('cg-cgn', '127.0.0.1:7004');
});

test('port-preserving: the outside sees the NAT address with the client port, the same for every destination', async () => {
  const seen = await client('in1', 'udp', 40001, ['198.51.100.6:7001', '198.51.100.6:7002']);
  assert.equal(seen, ['198.51.100.2:40001', '198.51.100.2:40001']);
  const tcp = await client('in1', 'tcp', 40011, ['198.51.100.6:7003']);
  assert.equal(tcp, ['198.51.100.2:40011']);
});

test('port-preserving: a second inside client on a port already mapped gets another port', async () => {
  const [first] = await client('in1', 'udp', 40002, ['198.51.100.6:7001']);
  const [second] = await client('in2', 'udp', 40002, ['198.51.100.6:7001']);
  assert.is(first, '198.51.100.2:40002');
  assert.match(second!, /^198\.51\.100\.2:\d+$/);
  assert.is.not(second, first);
});

test('symmetric: the source port is randomised and differs per destination', async () => {
  const seen = await client('in3', 'udp', 40003, ['198.51.100.6:7001', '198.51.100.6:7002']);
  const [a, b] = seen.map((s) => s.split(':'));
  assert.is(a![0], '198.51.100.10');
  assert.is(b![0], '198.51.100.10');
  assert.is.not(a![1], '40003');
  assert.is.not(a![1], b![1], 'another destination, another mapping');
  const tcp = await client('in3', 'tcp', 40013, ['198.51.100.6:7003']);
  assert.match(tcp[0]!, /^198\.51\.100\.10:\d+$/);
});

test('cgn: the carrier layer sees the shared-space address, the outside sees the carrier address', async () => {
  const [inner] = await client('in4', 'udp', 40004, ['100.127.255.1:7004']);
  assert.is(inner, '100.127.255.2:40004');
  const [outer] = await client('in4', 'udp', 40005, ['198.51.100.6:7001']);
  assert.is(outer, '198.51.100.14:40005');
});

test('unsolicited traffic from outside does not reach inside, replies do', async () => {
  const r = await p.exec(name, 'srv', ['ping', '-c1', '-W1', '192.168.50.2']);
  assert.is.not(r.code, 0, 'the NAT drops a new connection from outside even with a route to the inside');
  assert.is((await p.exec(name, 'in1', ['ping', '-c1', '-W2', '198.51.100.6'])).code, 0);
});

test('destroy removes the NAT lab, its generated carrier node included', async () => {
  for (const s of servers) s.kill('SIGKILL');
  const r = await p.destroy(name);
  assert.ok(r.namespaces.includes(nsName(name, 'cg-cgn')));
  assert.not.ok(existsSync(`/run/patronus/${name}`));
});

test.run();

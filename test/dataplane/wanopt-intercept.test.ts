// timeout: 60
/**
 * Transparent interception in network namespaces: a host namespace connects to remote addresses through an
 * edge namespace whose nftables TPROXY rules divert the selected flows to a transparent listener (created in
 * the edge namespace by the addon); the listener sees each connection's original destination. Unselected
 * flows are not diverted, and removal restores the previous behaviour.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFile, execFileSync } from 'node:child_process';
import type { Server, Socket } from 'node:net';
import { promisify } from 'node:util';
import { installInterception, interceptionScript, isWanoptError, listenTransparent, removeInterception, type InterceptOptions, type OriginalDestination } from '../../dataplane/wanopt/index.ts';

const run = promisify(execFile);
const tag = `${process.pid}`;
const HOST = `pt-woh-${tag}`, EDGE = `pt-woe-${tag}`;
const PORT = 7777;
const opts: InterceptOptions = { port: PORT, netns: EDGE, rules: [{ daddr: ['10.99.0.0/24'], dport: [8080, 8443] }, { daddr: ['10.99.1.7'] }] };
const servers: Server[] = [];
const seen: { dst: OriginalDestination; data: string }[] = [];

const sh = (...argv: string[]) => execFileSync(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

test.before(() => {
  sh('ip', 'netns', 'add', HOST);
  sh('ip', 'netns', 'add', EDGE);
  sh('ip', 'link', 'add', `pt-woh${tag}`, 'netns', HOST, 'type', 'veth', 'peer', 'name', `pt-woe${tag}`, 'netns', EDGE);
  for (const [ns, dev, addr] of [[HOST, `pt-woh${tag}`, '10.98.0.1/24'], [EDGE, `pt-woe${tag}`, '10.98.0.2/24']] as const) {
    sh('ip', '-n', ns, 'addr', 'add', addr, 'dev', dev);
    sh('ip', '-n', ns, 'link', 'set', dev, 'up');
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
  }
  sh('ip', '-n', HOST, 'route', 'add', '10.99.0.0/16', 'via', '10.98.0.2');
});

test.after(() => {
  for (const s of servers) s.close();
  for (const ns of [HOST, EDGE]) try { sh('ip', 'netns', 'del', ns); } catch { /* not created */ }
});

/** Connect from the host namespace with a plain node child; resolves to the reply or `error:<code>`. */
async function connectFromHost(addr: string, port: number, msg: string): Promise<string> {
  const script = `const s=require('net').connect(${port},'${addr}');let r='';s.setTimeout(1500,()=>{console.log('error:timeout');process.exit(0)});`
    + `s.on('connect',()=>s.end(${JSON.stringify(msg)}));s.on('data',d=>r+=d);s.on('end',()=>{console.log(r);process.exit(0)});s.on('error',e=>{console.log('error:'+e.code);process.exit(0)})`;
  const { stdout } = await run('ip', ['netns', 'exec', HOST, process.execPath, '-e', script], { timeout: 10_000 });
  return stdout.trim();
}

test('the nftables script selects the configured prefixes and ports', () => {
  assert.snapshot(interceptionScript(opts), [
    'table inet pt_wanopt {',
    '  chain prerouting {',
    '    type filter hook prerouting priority mangle; policy accept;',
    '    meta l4proto tcp ip daddr 10.99.0.0/24 tcp dport { 8080, 8443 } tproxy ip to 127.0.0.1:7777 meta mark set 0x7770 accept',
    '    meta l4proto tcp ip daddr 10.99.1.7 tproxy ip to 127.0.0.1:7777 meta mark set 0x7770 accept',
    '  }',
    '}',
    '',
  ].join('\n'));
});

test('a rule can select by the packet marks the LAN program sets (one set of class marks)', () => {
  const script = interceptionScript({ port: 7770, rules: [{ marks: [0x7e000002, 0x7e000005] }] });
  assert.match(script, 'meta l4proto tcp meta nfproto ipv4 meta mark { 0x7e000002, 0x7e000005 } tproxy ip to 127.0.0.1:7770 meta mark set 0x7770 accept');
});

test('bad interception options are rejected naming the key, before anything is installed', () => {
  for (const [o, key] of [
    [{ ...opts, port: 0 }, 'port'],
    [{ ...opts, rules: [{ daddr: ['10.0.0.0/33'] }] }, 'rules[0].daddr[0]'],
    [{ ...opts, rules: [{ daddr: ['10.0.0.1', 'fe80::1'] }] }, 'rules[0].daddr[1]'],
    [{ ...opts, rules: [{ dport: [70000] }] }, 'rules[0].dport[0]'],
    [{ ...opts, rules: [] }, 'rules'],
    [{ ...opts, table: 'filter' }, 'table'],
    [{ ...opts, routeTable: 254 }, 'routeTable'],
    [{ ...opts, rules: [{ marks: [0] }] }, 'rules[0].marks[0]'],
    [{ ...opts, rules: [{ marks: [] }] }, 'rules[0].marks'],
  ] as [InterceptOptions, string][]) {
    try { installInterception(o); assert.unreachable(`accepted ${key}`); } catch (e) {
      assert.ok(isWanoptError(e), String(e));
      assert.ok((e as Error).message.includes(`${key}:`), (e as Error).message);
    }
  }
  assert.not.match(sh('ip', 'netns', 'exec', EDGE, 'nft', 'list', 'tables'), 'pt_wanopt');
});

test('selected flows reach the transparent listener with their original destination; others are not diverted', async () => {
  servers.push(await listenTransparent({ port: PORT, netns: EDGE }, (sock: Socket, dst) => {
    let data = '';
    sock.on('data', (d) => { data += d; });
    sock.on('end', () => { seen.push({ dst, data }); sock.end(`proxy saw ${dst.address}:${dst.port} ${data}`); });
  }));
  installInterception(opts);
  assert.match(sh('ip', 'netns', 'exec', EDGE, 'nft', 'list', 'table', 'inet', 'pt_wanopt'), 'tproxy');
  assert.is(await connectFromHost('10.99.0.5', 8080, 'one'), 'proxy saw 10.99.0.5:8080 one');
  assert.is(await connectFromHost('10.99.0.200', 8443, 'two'), 'proxy saw 10.99.0.200:8443 two');
  assert.is(await connectFromHost('10.99.1.7', 22, 'three'), 'proxy saw 10.99.1.7:22 three');
  // Not selected: port 9090 on the first prefix, and another address of 10.99.1.0/24. The edge does not
  // forward, so these fail, and the listener never sees them.
  assert.match(await connectFromHost('10.99.0.5', 9090, 'no'), /^error:/);
  assert.match(await connectFromHost('10.99.1.8', 8080, 'no'), /^error:/);
  assert.equal(seen.map((s) => `${s.dst.address}:${s.dst.port}`), ['10.99.0.5:8080', '10.99.0.200:8443', '10.99.1.7:22']);
});

test('installing twice replaces the first installation, and removal stops the interception', async () => {
  installInterception(opts);
  assert.is(sh('ip', '-n', EDGE, 'rule', 'list').split('\n').filter((l) => l.includes('0x7770')).length, 1);
  assert.is(await connectFromHost('10.99.0.9', 8080, 'again'), 'proxy saw 10.99.0.9:8080 again');
  removeInterception(opts);
  assert.not.match(sh('ip', 'netns', 'exec', EDGE, 'nft', 'list', 'tables'), 'pt_wanopt');
  assert.is(sh('ip', '-n', EDGE, 'rule', 'list').split('\n').filter((l) => l.includes('0x7770')).length, 0);
  assert.match(await connectFromHost('10.99.0.5', 8080, 'gone'), /^error:/);
  assert.is(seen.length, 4);
});

test.run();

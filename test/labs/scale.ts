/** Shared body of the scale-N lab tests: deploy with the intent, every edge holds its bundle, every host reaches the hub's host, a few spoke pairs reach each other through the hub, destroy leaves nothing. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { getProvider, type NetnsProvider } from '../../twin/index.ts';
import { agentRequest } from '../../dataplane/index.ts';
import { bringUp, prepareLab } from '../../controller/cli/twin.ts';
import { mapLimit } from '../../twin/providers/netns/sh.ts';
import { scaleLab } from '../../scripts/gen-scale-labs.ts';

export function scaleSuite(nodes: number): void {
  const p = getProvider('netns') as NetnsProvider;
  const lab = `sc${nodes}-${process.pid}`;
  const edges = (nodes - 2) / 2;
  const quiet = { write: () => true } as unknown as NodeJS.WritableStream;
  const ours = () => execFileSync('ip', ['netns', 'list']).toString().split('\n').filter((l) => l.startsWith(`pt.${lab}.`));

  test.after(async () => { await p.destroy(lab); });

  test(`the committed labs/scale-${nodes} files are what the generator writes`, () => {
    const { lab: l, intent } = scaleLab(nodes);
    assert.fixture(readFileSync(`labs/scale-${nodes}/lab.yaml`, 'utf8'), l);
    assert.fixture(readFileSync(`labs/scale-${nodes}/intent.yaml`, 'utf8'), intent);
  });

  test(`deploys ${nodes} nodes with one agent per edge, each holding its own bundle`, async () => {
    const t0 = Date.now();
    const prepared = prepareLab(`labs/scale-${nodes}/lab.yaml`, { name: lab });
    await bringUp(p, prepared, { out: quiet });
    console.log(`  ${nodes} nodes up with bundles in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const st = await p.inspect(lab);
    assert.is(st.nodes.length, nodes);
    assert.ok(st.nodes.every((n) => n.present));
    const agents = st.nodes.filter((n) => n.kind === 'edge');
    assert.is(agents.length, edges);
    for (const n of agents) {
      // inspect gives each agent 5 s; on a saturated machine ask a silent one again, patiently, before judging it.
      const st = n.agent ?? (await agentRequest(p.agentSocket(lab, n.name), 'GET', '/status', undefined, 20_000)).body;
      assert.is((st as any)?.bundle?.hash, prepared.bundles.get(n.name)!.hash, `${n.name} holds its bundle`);
    }
  });

  test('every host reaches the hub site and spokes reach each other through the hub', async () => {
    const fails = (await mapLimit(Array.from({ length: edges - 1 }, (_, i) => i + 1), 16, async (i) => {
      const r = await p.exec(lab, `h${i}`, ['ping', '-c1', '-W2', '10.0.0.10']);
      return r.code === 0 ? undefined : `h${i}`;
    })).filter(Boolean);
    assert.equal(fails, []);
    for (const [a, b] of [[1, edges - 1], [2, Math.floor(edges / 2)]] as const) {
      const r = await p.exec(lab, `h${a}`, ['ping', '-c1', '-W2', `10.${b}.0.10`]);
      assert.is(r.code, 0, `h${a} → h${b}`);
      assert.match(r.stdout, /ttl=61/);
    }
  });

  test('destroy removes every namespace, agent and state file', async () => {
    const t0 = Date.now();
    const r = await p.destroy(lab);
    console.log(`  destroyed in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.is(r.namespaces.length, nodes);
    assert.is(r.processes, edges);
    assert.equal(ours(), []);
    assert.not.ok(existsSync(`/run/patronus/${lab}`));
  });

  test.run();
}

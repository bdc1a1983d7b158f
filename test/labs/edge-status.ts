/**
 * Reading an edge agent's status in twin lab tests (two-site-dual-wan and its copies): the voip steering
 * row, path ids by transport, per-path transmit counters, and polling until a condition holds.
 * Example: `const e1 = edgeStatus(p, lab, 'edge1'); const st = await e1.until('voice on MPLS', 30_000, (s) => voip(s)?.pathIds.length === 1);`
 */
import * as assert from 'uvu/assert';
import { agentRequest } from '../../dataplane/index.ts';
import type { TwinProvider } from '../../twin/index.ts';
import { sleep } from '../../bench/lib/flow.ts';

/** The steering row of the voip class (undefined until the agent has steered it). */
export const voip = (st: any): any => st.steering.find((r: any) => r.appClass === 'voip');
/** The id of the path on `transport`. */
export const pathId = (st: any, transport: string): number => st.paths.find((x: any) => x.transport === transport).id;
/** Packets the overlay data plane sent on `path`, all classes. */
export const txOn = (st: any, path: number): number =>
  st.overlay.counters.filter((c: any) => c.path === path && c.dir === 'tx').reduce((n: number, c: any) => n + c.packets, 0);

/** `get()` one status; `until()` polls every 100 ms and fails the test with the voip row after `ms`. */
export function edgeStatus(p: TwinProvider, lab: string, node: string) {
  const get = async (): Promise<any> => (await agentRequest(p.agentSocket(lab, node), 'GET', '/status', undefined, 3000)).body;
  return {
    get,
    async until(what: string, ms: number, pred: (st: any) => boolean): Promise<any> {
      for (const end = Date.now() + ms; ; await sleep(100)) {
        const st = await get();
        if (pred(st)) return st;
        if (Date.now() > end) assert.unreachable(`${what} within ${ms} ms; voip row: ${JSON.stringify(voip(st))}`);
      }
    },
  };
}

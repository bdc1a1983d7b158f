/**
 * bench/lib/verify-thread.ts — a worker thread of bench/lib/edge-sim.ts that parses and verifies signed bundle
 * envelopes (`verifySignedBundle`, the agent's own check), so one simulated edge's verification does not stall
 * the event loop that runs the other simulated edges' health reports and polls — on a real fleet each edge
 * verifies on its own CPU. The CPU spent is the same; it is reported per envelope.
 *
 * In: `{ id, body: ArrayBuffer (transferred), keys: SPKI PEM[] }`. Out: `{ id, hash, ms }` or `{ id, error }`.
 */
import { parentPort } from 'node:worker_threads';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { verifySignedBundle } from '../../dataplane/bundle/signature.ts';

let trusted: KeyObject[] | null = null;
parentPort!.on('message', (m: { id: number; body: ArrayBuffer; keys: string[] }) => {
  const t0 = performance.now();
  try {
    trusted ??= m.keys.map((k) => createPublicKey(k));
    const env = JSON.parse(Buffer.from(m.body).toString('utf8')) as { hash: string };
    verifySignedBundle(env, trusted);
    parentPort!.postMessage({ id: m.id, hash: env.hash, ms: performance.now() - t0 });
  } catch (e) {
    parentPort!.postMessage({ id: m.id, error: (e as Error).message });
  }
});

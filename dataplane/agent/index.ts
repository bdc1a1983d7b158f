/**
 * The edge agent process and the means to start and talk to it. Twin providers use
 * {@link agentCommand} to start agents and {@link agentRequest} to reach their control socket.
 */
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { packageRoot } from '../paths.ts';

export { Agent, type AgentOptions, type AgentStatus } from './agent.ts';
export { ProbeLog, probeQuery, PROBE_LOG_ROWS, PROBE_PAGE_ROWS, type ProbeLogPage } from './probe-log.ts';
export { LoopLag, lateBucket, LATE_BUCKETS, type LoopLagStatus } from './loop-lag.ts';
export { realClock, skewedClock, clockFor, type Clock, type ClockSkew } from './clock.ts';
export { planKernelRoutes, routeBatch, RTPROT_PATRONUS } from './kernel-routes.ts';

/** argv that starts an agent as plain JavaScript (dist/edge.js, built at set-up). */
export function agentCommand(args: string[]): string[] {
  const bundle = join(packageRoot(), 'dist', 'edge.js');
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing; run "npm run setup"`);
  return [process.execPath, bundle, ...args];
}

/** One HTTP request to an agent's control socket; resolves with status code and parsed JSON body. */
export function agentRequest(socket: string, method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown, timeoutMs = 5000): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = request({ socketPath: socket, method, path, timeout: timeoutMs, headers: data ? { 'content-type': 'application/json', 'content-length': data.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        try { resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null }); } catch { reject(new Error(`agent at ${socket}: bad JSON reply`)); }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`agent at ${socket}: no reply within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

/**
 * Bodies of the edge API (v1), validated with zod. Shared by the server and documented in docs/edge-api.md;
 * the agent side (dataplane/agent/controller-client.ts) builds the same shapes without importing this file.
 */
import { z } from 'zod';

export const EnrolRequest = z.object({
  /** `pt1.<secret>.<ca-pin>` from `patronus controller enrol-token EDGE`. */
  token: z.string().min(1),
  /** PKCS#10 CSR in PEM; its key stays on the edge. */
  csr: z.string().min(1),
  /** What the edge reports about itself (interfaces, addresses). */
  inventory: z.unknown().optional(),
});

export const RenewRequest = z.object({ csr: z.string().min(1) });

export const InventoryRequest = z.object({ inventory: z.unknown() });

export const AckRequest = z.object({
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'a sha256 hex bundle hash'),
  version: z.number().int().nullable().optional(),
  ok: z.boolean(),
  reason: z.string().max(4096).nullable().optional(),
});

export const HealthRequest = z.object({
  /** The edge's latest health (paths, BGP, bundle, commit-confirmed result); stored as is. */
  health: z.record(z.string(), z.unknown()),
  /** Telemetry records since the last report; appended to telemetry.jsonl. */
  telemetry: z.array(z.record(z.string(), z.unknown())).max(10_000).optional(),
});

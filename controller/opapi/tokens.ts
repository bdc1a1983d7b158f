/** Operator bearer tokens: generated once, shown once, stored only as their sha256. Roles are ordered. */
import { createHash, randomBytes } from 'node:crypto';
import { ROLES, type OperatorTokenRecord, type Role, type Store } from '../store/index.ts';

/** Token prefix, so a leaked token is recognisable by secret scanners. */
export const TOKEN_PREFIX = 'ptk_';

/** sha256 hex of a bearer token — the only form the store keeps. */
export const hashToken = (token: string) => createHash('sha256').update(token, 'utf8').digest('hex');

/** A fresh random bearer token: `ptk_` + 43 base64url characters (256 bits). */
export const generateToken = () => TOKEN_PREFIX + randomBytes(32).toString('base64url');

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/**
 * Whether a holder of `have` may do what needs `need`: admin ⊃ operator ⊃ viewer.
 * @example allows('operator', 'viewer') // true
 */
export const allows = (have: Role, need: Role) => RANK[have] >= RANK[need];

export const isRole = (v: unknown): v is Role => typeof v === 'string' && (ROLES as readonly string[]).includes(v);

/** A created token: the secret (print it once) and its stored record. */
export interface CreatedToken { token: string; record: OperatorTokenRecord }

/**
 * Creates and stores a token named `name` with `role`, and audits it as `actor` in the same transaction.
 * @throws StoreConflictError when the name is taken.
 * @example const { token } = await createOperatorToken(store, 'ci', 'operator', { actor: 'cli:root' });
 */
export async function createOperatorToken(
  store: Store, name: string, role: Role, by: { actor: string; role?: Role | null },
): Promise<CreatedToken> {
  const token = generateToken();
  const record = await store.tx(async (tx) => {
    const r = await tx.addOperatorToken({ tokenHash: hashToken(token), name, role });
    await tx.appendAudit({ actor: by.actor, role: by.role ?? null, action: 'token.create', target: `token:${name}`, outcome: 'ok', detail: { role } });
    return r;
  });
  return { token, record };
}

/** Store errors: one base class, one subclass per failure kind, and type guards. */

/** Base of every store failure; `cause` carries the driver's error when there is one. */
export class StoreError extends Error {
  override name = 'StoreError';
}

/** A record that must be unique already exists (duplicate token name, promotion id, …). */
export class StoreConflictError extends StoreError {
  override name = 'StoreConflictError';
}

/** A record that must exist does not (updating an unknown edge or promotion). */
export class StoreNotFoundError extends StoreError {
  override name = 'StoreNotFoundError';
}

/** The database was written by a newer Patronus (schema version above what this code knows). */
export class StoreVersionError extends StoreError {
  override name = 'StoreVersionError';
}

export const isStoreError = (e: unknown): e is StoreError => e instanceof StoreError;
export const isStoreConflictError = (e: unknown): e is StoreConflictError => e instanceof StoreConflictError;
export const isStoreNotFoundError = (e: unknown): e is StoreNotFoundError => e instanceof StoreNotFoundError;

export * from './schema.ts';
export * from './normalise.ts';
export * from './inventory.ts';
export * from './json-schema.ts';

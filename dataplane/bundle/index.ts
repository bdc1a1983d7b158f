export * from './schema.ts';
export * from './hash.ts';

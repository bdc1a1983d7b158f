export * from './schema.ts';
export * from './hash.ts';
export * from './signature.ts';

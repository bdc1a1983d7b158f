/**
 * BGP-4 wire codec: pure encode/decode of every message kind (RFC 4271, 4760, 6793, 2918, 1997, 8092,
 * 4724 parsed), with RFC 7606 error handling returned as data. Prefixes are canonical strings.
 */
export * from './types.ts';
export * from './prefix.ts';
export { ATTRS, F_EXTENDED, F_OPTIONAL, F_PARTIAL, F_TRANSITIVE, asPathLength, decodeAsPath, encodeAsPath, formatAsPath, formatAttributes, formatCommunity, mergeAs4, type AttrSpec } from './attrs.ts';
export * from './messages.ts';

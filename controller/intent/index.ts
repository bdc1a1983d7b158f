/**
 * controller/intent — the Intent v1 file: zod schema (the single source of truth, also emitted as JSON
 * Schema), site templates, cross-reference checks and the resolver that yields the {@link Intent} the
 * compiler reads. Flow: YAML → expandTemplates → IntentDocument (structure) → checkIntent → resolveIntent.
 */
export { loadIntent, parseIntent, validateIntent } from './load.ts';
export { intentJsonSchema, INTENT_SCHEMA_ID } from './json-schema.ts';
export { expandTemplates } from './templates.ts';
export {
  IntentDocument, INTENT_API_VERSION, DEFAULT_SEGMENT, DEFAULT_APP_CLASS, DSCP_NAMES, parsePortRange,
  type Intent, type Transport, type Segment, type Site, type Topology, type SlaClass, type AppClass, type AppMatch,
  type QosClass, type Rule, type PortRange,
} from './schema.ts';

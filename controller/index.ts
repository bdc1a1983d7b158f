/**
 * controller/ — the intent schema and compiler (inventory + intent → one signed bundle per edge), and
 * later the version store, promotion workflows, the edge API and analytics. The `patronus` CLI lives in
 * controller/cli/.
 */
export {
  loadIntent, parseIntent, validateIntent, intentJsonSchema, INTENT_SCHEMA_ID, INTENT_API_VERSION, IntentDocument,
  type Intent, type Transport, type Segment, type Site, type Topology, type SlaClass, type AppClass, type AppMatch,
  type QosClass, type Rule, type PortRange,
} from './intent/index.ts';
export { compile, type CompileOptions, type CompileResult, type CompiledBundle } from './compiler/index.ts';

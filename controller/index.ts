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
export {
  openStore, stateFiles, DEFAULT_STATE_DIR, type Store, type IntentVersion, type BundleRecord, type EdgeRecord,
  type AuditEntry, type PromotionRecord, type Role,
} from './store/index.ts';
export { addVersion, rollbackTo, diffIntents, diffVersions, blastRadius, loadOrCreateSigningKey, type IntentChange, type BlastRadius } from './versions/index.ts';
export { createOpApiHandler, createOperatorToken, type OpApiOptions, type PromotionActions } from './opapi/index.ts';
export {
  startPromotion, resumePromotion, runPromotions, requestApproval, requestAbort, getPromotionView, listPromotionViews,
  promotionActions, promotionMachine, storeFleet, twinVerifier, realClock, virtualClock, type Fleet, type PromotionOptions,
  type PromotionView, type PromotionHandle, type RunnerOptions,
} from './promotion/index.ts';
export {
  CertificateAuthority, issueEdgeCertificate, revokeEdgeCertificate, checkPeerCertificate, DEFAULT_EDGE_CERT_DAYS,
  PkiError, CsrError, isPkiError, type IssuedCertificate, type PeerCheck,
} from './pki/index.ts';
export {
  startEdgeApi, setDesired, onEdgeEvent, emitEdgeEvent, createEnrolmentToken, type EdgeApi, type EdgeApiOptions, type EdgeEvent,
} from './edgeapi/index.ts';
export { AnalyticsStore, startAnalytics, TelemetryLog, withAnalyticsRoutes, type ControllerAnalytics, type ImportResult, type QueryResult } from './analytics/index.ts';

/**
 * dataplane/bgp — the BGP-4 speaker every edge (twin or real) runs: a pure wire codec (codec/), the
 * RFC 4271 FSM with injected socket and clock (fsm.ts), per-segment RIBs with the decision process and
 * export rules (rib.ts), import/export policy (policy.ts), configuration (config.ts) and the speaker
 * that joins them over TCP (speaker.ts). The agent creates a {@link BgpSpeaker} from the bundle's BGP
 * section and programs the FIB from its 'bests' events (one array of changes per UPDATE); run.ts runs one as a standalone process.
 */
export * as codec from './codec/index.ts';
export { Session, systemClock, type Clock, type Connection, type Dialer, type SessionConfig, type SessionHooks, type State } from './fsm.ts';
export { Rib, selectBest, exportAttributes, DECISION_STEPS, type RibOptions, type BestChange, type PeerRef, type Route, type ExportContext } from './rib.ts';
export { CompiledPolicy, PolicySchema, parseCommunity, parseLargeCommunity, type Policy, type PolicyInput } from './policy.ts';
export { SpeakerConfigSchema, NeighborSchema, NetworkSchema, parseSpeakerConfig, type SpeakerConfig, type SpeakerConfigInput, type NeighborConfig } from './config.ts';
export { BgpSpeaker, socketConnection, type NeighborStatus, type SpeakerEvents, type SpeakerOptions } from './speaker.ts';

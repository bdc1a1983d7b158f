/**
 * BGP-4 message and error types shared by the codec, the FSM and the RIB. Prefixes travel as canonical
 * strings ("10.1.0.0/16", "2001:db8::/32") because they double as RIB keys; AS numbers are plain numbers
 * (0 … 2^32-1); timers in seconds as on the wire.
 */

/** Message type codes (RFC 4271 §4.1, RFC 2918). */
export const MsgType = { OPEN: 1, UPDATE: 2, NOTIFICATION: 3, KEEPALIVE: 4, ROUTE_REFRESH: 5 } as const;

/** Address family identifiers we speak (IANA AFI) and the one SAFI (unicast). */
export const AFI_IPV4 = 1;
export const AFI_IPV6 = 2;
export const SAFI_UNICAST = 1;

/** AS_TRANS (RFC 6793): stands in for a 4-octet AS in 2-octet fields. */
export const AS_TRANS = 23456;

/** An address family: AFI 1 (IPv4) or 2 (IPv6) with SAFI 1 (unicast); other pairs are kept but not routed. */
export interface Family { afi: number; safi: number }

/** Graceful restart capability (RFC 4724), parsed and re-encoded but not acted upon. */
export interface GracefulRestart {
  /** R bit: the sender has restarted. */
  restarting: boolean;
  /** Seconds (0 … 4095) the peer keeps our routes while we restart. */
  restartTime: number;
  families: (Family & { forwardingPreserved: boolean })[];
}

/**
 * Capabilities carried in an OPEN (RFC 5492). Example: `{ multiprotocol: [{afi: 1, safi: 1}], as4: 65010,
 * routeRefresh: true, unknown: [] }`.
 */
export interface Capabilities {
  /** RFC 4760 code 1, one entry per family. */
  multiprotocol: Family[];
  /** RFC 6793 code 65: the speaker's real (4-octet) AS. */
  as4?: number;
  /** RFC 2918 code 2 (the Cisco pre-standard code 128 is read as this too). */
  routeRefresh: boolean;
  /** RFC 4724 code 64. */
  gracefulRestart?: GracefulRestart;
  /** Any other capability, kept verbatim. */
  unknown: { code: number; data: Uint8Array }[];
}

export interface OpenMessage {
  type: 'open';
  /** Always 4. */
  version: number;
  /** My Autonomous System field: the 2-octet AS, or AS_TRANS when the real AS needs 4 octets. */
  myAs: number;
  /** Proposed hold time in seconds: 0 (no keepalives) or ≥ 3. */
  holdTime: number;
  /** BGP identifier as dotted quad. */
  routerId: string;
  capabilities: Capabilities;
}

/** AS_PATH segment: type 1 AS_SET, 2 AS_SEQUENCE (RFC 4271), 3/4 confederation (RFC 5065, carried). */
export interface AsPathSegment { type: 1 | 2 | 3 | 4; asns: number[] }

/** An attribute nobody here understands, carried as is (optional transitive ones get the Partial bit). */
export interface RawAttribute { flags: number; code: number; data: Uint8Array }

/** MP_REACH_NLRI (RFC 4760): next hops (one global, optionally a link-local for IPv6) and prefixes. */
export interface MpReach { afi: number; safi: number; nextHops: string[]; nlri: string[] }
/** MP_UNREACH_NLRI (RFC 4760). */
export interface MpUnreach { afi: number; safi: number; withdrawn: string[] }

/**
 * Path attributes of an UPDATE, decoded. Absent keys were not present. AS numbers in `asPath` are
 * always the real ones: a 2-octet session's AS_PATH merged with AS4_PATH (RFC 6793 §4.2.3) is in
 * `asPath`, the raw AS4_PATH kept in `as4Path` only until the merge.
 * Communities are 32-bit numbers (65000:1 = 65000*65536+1); large communities are [global, local1, local2].
 */
export interface PathAttributes {
  origin?: 0 | 1 | 2;
  asPath?: AsPathSegment[];
  nextHop?: string;
  /**
   * Not an attribute of its own: the link-local half of an IPv6 MP_REACH next hop of 32 bytes (RFC 2545),
   * e.g. "fe80::2", set by the speaker on the IPv6 routes of that UPDATE beside `nextHop` (the global
   * half). Never encoded and never exported: it is only valid on the link it came from.
   */
  nextHopLinkLocal?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: { asn: number; address: string };
  communities?: number[];
  originatorId?: string;
  clusterList?: string[];
  mpReach?: MpReach;
  mpUnreach?: MpUnreach;
  as4Path?: AsPathSegment[];
  as4Aggregator?: { asn: number; address: string };
  largeCommunities?: [number, number, number][];
  /** Unrecognised optional attributes, in arrival order. */
  unknown?: RawAttribute[];
}

export interface UpdateMessage {
  type: 'update';
  /** IPv4 prefixes withdrawn in the classic field. */
  withdrawn: string[];
  attrs: PathAttributes;
  /** IPv4 prefixes announced in the classic field. */
  nlri: string[];
  /** With `CodecContext.rawNlri`: the classic withdrawn-routes field, validated, not decoded (`withdrawn` is empty). */
  withdrawnRaw?: Uint8Array;
  /** With `CodecContext.rawNlri`: the classic NLRI field, validated, not decoded (`nlri` is empty). */
  nlriRaw?: Uint8Array;
  /**
   * Set by the decoder when RFC 7606 says to treat this UPDATE as a withdrawal of all its prefixes
   * (announced ones in `nlri` and `attrs.mpReach`); `errors` says why.
   */
  treatAsWithdraw?: boolean;
  /** Non-fatal problems found while decoding (treat-as-withdraw or attribute-discard). */
  errors?: BgpError[];
}

export interface NotificationMessage { type: 'notification'; code: number; subcode: number; data: Uint8Array }
export interface KeepaliveMessage { type: 'keepalive' }
/** ROUTE-REFRESH (RFC 2918): ask the peer to resend its Adj-RIB-Out for one family. */
export interface RouteRefreshMessage { type: 'route-refresh'; afi: number; safi: number }

export type BgpMessage = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

/** RFC 7606 outcomes, from harshest to mildest. */
export type ErrorAction = 'session-reset' | 'treat-as-withdraw' | 'attribute-discard';

/**
 * A decode error as data: the NOTIFICATION code/subcode/data a session reset would send, the RFC 7606
 * action and a human sentence. Example: `{code: 3, subcode: 6, data: <01 01 03>, action: 'treat-as-withdraw',
 * reason: 'ORIGIN value 3 is not 0, 1 or 2'}`.
 */
export interface BgpError { code: number; subcode: number; data: Uint8Array; action: ErrorAction; reason: string }

/** Decoder options negotiated per session. */
export interface CodecContext {
  /** Both sides announced 4-octet AS support: AS_PATH and AGGREGATOR carry 4-octet AS numbers. */
  as4: boolean;
  /**
   * Leave the classic IPv4 withdrawn/NLRI fields of an UPDATE undecoded: the decoder validates them and
   * hands the bytes over in {@link UpdateMessage.withdrawnRaw} / {@link UpdateMessage.nlriRaw} with
   * `withdrawn` and `nlri` left empty, so a full-table receiver walks them without building a string per
   * prefix (the speaker does; see `forEachNlri4`). Default false: prefixes as strings.
   * Also interns attribute sets: an UPDATE whose path-attribute bytes equal those of an earlier error-free
   * UPDATE decoded with the same context object (with ORIGIN, AS_PATH and NEXT_HOP, no MP_REACH/UNREACH)
   * gets that earlier message's `attrs` object itself, not decoded again — so decoded attributes must be
   * treated as immutable (copy before changing). Up to 200 000 sets per context, then it starts over.
   */
  rawNlri?: boolean;
}

/** NOTIFICATION error codes (RFC 4271 §4.5, RFC 7313). */
export const ErrCode = { HEADER: 1, OPEN: 2, UPDATE: 3, HOLD_TIMER: 4, FSM: 5, CEASE: 6, ROUTE_REFRESH: 7 } as const;

/** Well-known communities (RFC 1997). */
export const NO_EXPORT = 0xffffff01;
export const NO_ADVERTISE = 0xffffff02;

export const bgpError = (code: number, subcode: number, action: ErrorAction, reason: string, data: Uint8Array = new Uint8Array(0)): BgpError =>
  ({ code, subcode, data, action, reason });

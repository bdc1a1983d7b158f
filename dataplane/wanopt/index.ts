/**
 * dataplane/wanopt — WAN optimisation between two edges: content-defined chunking with SHA-256
 * fingerprints (chunker.ts; hot loop in the native/ addon, pure-JS fallback with identical cuts), a bounded
 * LRU chunk store with an optional disk tier (store.ts), per-chunk compression choosing zstd / lz4 / none
 * (compress.ts), the framed, versioned stream protocol multiplexing many flows over one TCP connection with
 * chunk references, literals and request/resend when the two stores disagree (frames.ts, session.ts), and
 * Reed–Solomon FEC with packet-order correction for UDP classes (rs.ts, fec.ts). docs/wanopt.md has the
 * design and the frame format. intercept.ts diverts selected TCP flows to a local transparent listener
 * (nftables TPROXY); proxy.ts joins intercepted connections to one session per peer edge and relays them to
 * their original destinations on the peer; fec-relay.ts carries FEC classes' packets between edges through
 * TUN devices (tun.ts). dataplane/agent/wanopt.ts runs both in the agent.
 */
export * from './errors.ts';
export { chunkBuffer, Chunker, chunkerImpl, checkChunkParams, sha256, gearMasks, GEAR, DEFAULT_CHUNK_PARAMS, DIGEST_LEN, type Chunk, type ChunkParams, type Chunks, type ChunkOptions } from './chunker.ts';
export { ChunkStore, type ChunkStoreOptions, type ChunkStoreStats } from './store.ts';
export { ChunkCompressor, Codec, DEFAULT_COMPRESS_POLICY, sampleEntropy, zstdContentSize, type CodecId, type CodecName, type CompressPolicy, type Compressed } from './compress.ts';
export { encodeFrame, decodeFrame, FrameReader, FrameType, FRAME_MAGIC, PROTOCOL_VERSION, HEADER_LEN, DEFAULT_MAX_FRAME, MAX_META, type Frame, type FrameTypeName, type DecodeResult } from './frames.ts';
export { WanoptSession, WanoptFlow, type SessionOptions, type SessionStats } from './session.ts';
export { rsEncode, rsDecode, gfMul, gfInv } from './rs.ts';
export { FecEncoder, FecDecoder, Reorderer, encodeFecPacket, decodeFecPacket, FEC_HEADER_LEN, FEC_MAX_PACKET, type FecPacket, type FecStats, type ReorderStats } from './fec.ts';
export { wanoptAddon, wanoptAddonPath, type WanoptAddon } from './native.ts';
export { WanoptProxy, relay, encodeDestination, decodeDestination, type PeerTarget, type ProxyOptions, type ProxyStats } from './proxy.ts';
export { FecRelay, type FecClass, type FecRelayOptions, type FecRelayStats } from './fec-relay.ts';
export { TunDevice } from './tun.ts';
export { installInterception, removeInterception, interceptionScript, listenTransparent, originalDestination, type InterceptOptions, type InterceptRule, type OriginalDestination } from './intercept.ts';

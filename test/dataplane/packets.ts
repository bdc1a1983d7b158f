/**
 * Packet builders for BPF fixtures: Ethernet (optionally 802.1Q), IPv4, IPv6, TCP, UDP, ICMP/ICMPv6 and the
 * Patronus overlay header, with correct checksums, written from the RFCs (791, 8200, 793, 768, 792, 4443).
 * Addresses are text ('10.1.0.10', '2001:db8::1', '02:00:00:00:00:01'); every builder returns a Buffer.
 *
 * @example
 *   const frame = ether({ src: MAC_HOST, dst: MAC_EDGE },
 *     ipv4({ src: '10.1.0.10', dst: '10.2.0.10', proto: 17, payload: udp('10.1.0.10', '10.2.0.10', 5000, 53, Buffer.from('hi')) }));
 */
import { ipv6Bytes } from '../../dataplane/xdp/layout.ts';

export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_ARP = 0x0806;
export const ETH_P_8021Q = 0x8100;
export const IPPROTO = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58 } as const;

export const macBytes = (m: string): Buffer => Buffer.from(m.split(':').map((x) => parseInt(x, 16)));
export const ipv4Bytes = (a: string): Buffer => Buffer.from(a.split('.').map(Number));
/** 4 or 16 address bytes by the text's family. */
export const ipBytes = (a: string): Buffer => (a.includes(':') ? ipv6Bytes(a) : ipv4Bytes(a));

/** RFC 1071 one's-complement sum of `parts` (odd lengths padded), not yet complemented. */
export function onesSum(...parts: Buffer[]): number {
  let s = 0;
  for (const b of parts) {
    for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
    if (b.length % 2) s += b[b.length - 1]! << 8;
  }
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

/** The Internet checksum of `parts`. */
export const checksum = (...parts: Buffer[]): number => ~onesSum(...parts) & 0xffff;

/** Pseudo header of an upper-layer checksum for IPv4 or IPv6 (by the address family). */
export function pseudoHeader(src: string, dst: string, proto: number, length: number): Buffer {
  if (src.includes(':')) {
    const b = Buffer.alloc(40);
    ipv6Bytes(src).copy(b, 0);
    ipv6Bytes(dst).copy(b, 16);
    b.writeUInt32BE(length, 32);
    b[39] = proto;
    return b;
  }
  const b = Buffer.alloc(12);
  ipv4Bytes(src).copy(b, 0);
  ipv4Bytes(dst).copy(b, 4);
  b[9] = proto;
  b.writeUInt16BE(length, 10);
  return b;
}

/** An Ethernet frame; `vlan` adds an 802.1Q tag (priority 0). */
export function ether(h: { dst: string; src: string; type?: number; vlan?: number }, payload: Buffer): Buffer {
  const type = h.type ?? (payload.length && payload[0]! >> 4 === 6 ? ETH_P_IPV6 : ETH_P_IP);
  const tag = h.vlan !== undefined ? 4 : 0;
  const b = Buffer.alloc(14 + tag);
  macBytes(h.dst).copy(b, 0);
  macBytes(h.src).copy(b, 6);
  if (tag) {
    b.writeUInt16BE(ETH_P_8021Q, 12);
    b.writeUInt16BE(h.vlan! & 0xfff, 14);
    b.writeUInt16BE(type, 16);
  } else {
    b.writeUInt16BE(type, 12);
  }
  return Buffer.concat([b, payload]);
}

export interface Ipv4Options {
  src: string; dst: string; proto: number; payload: Buffer;
  ttl?: number; tos?: number; id?: number;
  /** Don't-fragment; default true. */
  df?: boolean; mf?: boolean;
  /** Fragment offset in 8-byte units. */
  fragOffset?: number;
  /** IP options (a multiple of 4 bytes). */
  options?: Buffer;
}

/** An IPv4 packet with a correct header checksum. */
export function ipv4(o: Ipv4Options): Buffer {
  const opt = o.options ?? Buffer.alloc(0);
  const h = Buffer.alloc(20 + opt.length);
  h[0] = 0x40 | (h.length / 4);
  h[1] = o.tos ?? 0;
  h.writeUInt16BE(h.length + o.payload.length, 2);
  h.writeUInt16BE(o.id ?? 0, 4);
  h.writeUInt16BE(((o.df ?? true) ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | (o.fragOffset ?? 0), 6);
  h[8] = o.ttl ?? 64;
  h[9] = o.proto;
  ipv4Bytes(o.src).copy(h, 12);
  ipv4Bytes(o.dst).copy(h, 16);
  opt.copy(h, 20);
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, o.payload]);
}

/** An IPv6 packet (next header `nh`; extension headers, if any, are part of payload). */
export function ipv6(o: { src: string; dst: string; nh: number; payload: Buffer; hopLimit?: number; tclass?: number; flow?: number }): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt32BE(((6 << 28) | ((o.tclass ?? 0) << 20) | (o.flow ?? 0)) >>> 0, 0);
  h.writeUInt16BE(o.payload.length, 4);
  h[6] = o.nh;
  h[7] = o.hopLimit ?? 64;
  ipv6Bytes(o.src).copy(h, 8);
  ipv6Bytes(o.dst).copy(h, 24);
  return Buffer.concat([h, o.payload]);
}

/** A UDP datagram with its checksum over the pseudo header of src → dst. */
export function udp(src: string, dst: string, sport: number, dport: number, data: Buffer): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(sport, 0);
  b.writeUInt16BE(dport, 2);
  b.writeUInt16BE(8 + data.length, 4);
  const full = Buffer.concat([b, data]);
  const c = checksum(pseudoHeader(src, dst, IPPROTO.udp, full.length), full);
  full.writeUInt16BE(c === 0 ? 0xffff : c, 6);
  return full;
}

export const TCP = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10 } as const;

/** TCP option bytes: MSS (kind 2), NOP (1), window scale (3), SACK-permitted (4), end (0). */
export const tcpOpt = {
  mss: (v: number) => Buffer.from([2, 4, v >> 8, v & 0xff]),
  nop: () => Buffer.from([1]),
  wscale: (s: number) => Buffer.from([3, 3, s]),
  sackOk: () => Buffer.from([4, 2]),
  eol: () => Buffer.from([0]),
};

/** A TCP segment with its checksum; options are padded with EOL to a multiple of 4 bytes. */
export function tcp(src: string, dst: string, o: {
  sport: number; dport: number; seq?: number; ack?: number; flags: number; window?: number; options?: Buffer[]; data?: Buffer;
}): Buffer {
  let opts = Buffer.concat(o.options ?? []);
  if (opts.length % 4) opts = Buffer.concat([opts, Buffer.alloc(4 - (opts.length % 4))]);
  const h = Buffer.alloc(20);
  h.writeUInt16BE(o.sport, 0);
  h.writeUInt16BE(o.dport, 2);
  h.writeUInt32BE(o.seq ?? 1000, 4);
  h.writeUInt32BE(o.ack ?? 0, 8);
  h[12] = ((20 + opts.length) / 4) << 4;
  h[13] = o.flags;
  h.writeUInt16BE(o.window ?? 65535, 14);
  const full = Buffer.concat([h, opts, o.data ?? Buffer.alloc(0)]);
  full.writeUInt16BE(checksum(pseudoHeader(src, dst, IPPROTO.tcp, full.length), full), 16);
  return full;
}

/** An ICMP (IPv4) message: type, code, the 4 "rest of header" bytes, body. */
export function icmp4(type: number, code: number, rest: Buffer, body: Buffer): Buffer {
  const b = Buffer.concat([Buffer.from([type, code, 0, 0]), rest, body]);
  b.writeUInt16BE(checksum(b), 2);
  return b;
}

/** An ICMPv6 message with its checksum over the pseudo header of src → dst. */
export function icmp6(src: string, dst: string, type: number, code: number, rest: Buffer, body: Buffer): Buffer {
  const b = Buffer.concat([Buffer.from([type, code, 0, 0]), rest, body]);
  b.writeUInt16BE(checksum(pseudoHeader(src, dst, IPPROTO.icmpv6, b.length), b), 2);
  return b;
}

/** An ICMP echo request payload (IPv4 when the addresses are v4). */
export function echoRequest(src: string, dst: string, id: number, seq: number, data: Buffer): Buffer {
  const rest = Buffer.alloc(4);
  rest.writeUInt16BE(id, 0);
  rest.writeUInt16BE(seq, 2);
  return src.includes(':') ? icmp6(src, dst, 128, 0, rest, data) : icmp4(8, 0, rest, data);
}

/** The 16-byte Patronus overlay header (docs/overlay.md). */
export function overlayHeader(h: {
  version?: number; flags?: number; classId: number; segment: number; site: number; path: number; pathSeq: number; dupSeq?: number;
}): Buffer {
  const b = Buffer.alloc(16);
  b[0] = ((h.version ?? 1) << 4) | (h.flags ?? 0);
  b[1] = h.classId;
  b.writeUInt16BE(h.segment, 2);
  b.writeUInt16BE(h.site, 4);
  b.writeUInt16BE(h.path, 6);
  b.writeUInt32BE(h.pathSeq >>> 0, 8);
  b.writeUInt32BE((h.dupSeq ?? 0) >>> 0, 12);
  return b;
}

/**
 * A whole overlay frame as an edge sends it: outer Ethernet + IPv4 (DF, id 0, tos, ttl) + UDP (checksum
 * 0) + Patronus header + inner IP packet.
 */
export function overlayFrame(o: {
  smac: string; dmac: string; saddr: string; daddr: string; sport: number; dport: number; tos?: number; ttl?: number;
  hdr: Parameters<typeof overlayHeader>[0]; inner: Buffer;
}): Buffer {
  const u = Buffer.alloc(8);
  u.writeUInt16BE(o.sport, 0);
  u.writeUInt16BE(o.dport, 2);
  u.writeUInt16BE(8 + 16 + o.inner.length, 4);
  const payload = Buffer.concat([u, overlayHeader(o.hdr), o.inner]);
  return ether({ dst: o.dmac, src: o.smac, type: ETH_P_IP },
    ipv4({ src: o.saddr, dst: o.daddr, proto: IPPROTO.udp, payload, tos: (o.tos ?? 0) & 0xfc, ttl: o.ttl ?? 64, df: true }));
}

/** Hex dump in 16-byte rows, for readable assertion diffs. */
export const hex = (b: Buffer): string => (b.toString('hex').match(/.{1,32}/g) ?? []).join('\n');

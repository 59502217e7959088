/**
 * The little of DNS (RFC 1035) a `dns/` tunnel needs, as pure functions over
 * bytes: check that a packet is a well-formed query, learn how large a UDP
 * answer the client takes (EDNS, RFC 6891), and build the replies warren
 * writes itself (SERVFAIL when the resolver does not answer in time, a
 * truncated answer that sends a UDP client to TCP). Nothing is resolved and
 * no record is interpreted: queries and answers pass through unchanged but
 * for their 16-bit ID, which the tunnel rewrites so that queries of many
 * clients can share one DNS-over-TCP connection (RFC 7766).
 */

export const HEADER_SIZE = 12;
/** A UDP answer without EDNS is at most this long (RFC 1035 4.2.1). */
export const CLASSIC_UDP_SIZE = 512;
const TYPE_OPT = 41;
const FLAG_QR = 0x80; // in byte 2
const FLAG_TC = 0x02; // in byte 2
const RCODE_SERVFAIL = 2;

export interface DnsQuery {
  id: number;
  /** The offset after the question section. */
  questionEnd: number;
  /** The largest UDP answer the client accepts (512, or its EDNS size). */
  udpSize: number;
}

/** Skip a domain name at `off`; the offset after it, or -1 if malformed. */
function skipName(buf: Uint8Array, off: number): number {
  let total = 0;
  for (let hops = 0; hops < 128; hops++) {
    if (off >= buf.length) return -1;
    const len = buf[off];
    if (len === 0) return off + 1;
    if ((len & 0xc0) === 0xc0) return off + 2 <= buf.length ? off + 2 : -1; // a pointer ends it
    if ((len & 0xc0) !== 0) return -1; // reserved label types
    total += len + 1;
    if (total > 255) return -1;
    off += 1 + len;
  }
  return -1;
}

const u16 = (b: Uint8Array, off: number) => (b[off] << 8) | b[off + 1];

/** A query's ID, question end and UDP size; a string saying what is wrong otherwise. */
export function parseQuery(buf: Uint8Array): DnsQuery | string {
  if (buf.length < HEADER_SIZE) return `${buf.length} bytes is shorter than a DNS header`;
  if (buf[2] & FLAG_QR) return "a response, not a query";
  const opcode = (buf[2] >> 3) & 0x0f;
  if (opcode !== 0) return `opcode ${opcode} (only QUERY is forwarded)`;
  const qd = u16(buf, 4);
  if (qd !== 1) return `${qd} questions (one is expected)`;
  let off = skipName(buf, HEADER_SIZE);
  if (off < 0 || off + 4 > buf.length) return "malformed question";
  off += 4;
  const questionEnd = off;
  let udpSize = CLASSIC_UDP_SIZE;
  const records = u16(buf, 6) + u16(buf, 8) + u16(buf, 10);
  for (let i = 0; i < records; i++) {
    off = skipName(buf, off);
    if (off < 0 || off + 10 > buf.length) return "malformed record";
    const type = u16(buf, off);
    if (type === TYPE_OPT) udpSize = Math.max(CLASSIC_UDP_SIZE, u16(buf, off + 2));
    off += 10 + u16(buf, off + 8);
    if (off > buf.length) return "malformed record";
  }
  if (off !== buf.length) return `${buf.length - off} bytes after the last record`;
  return { id: u16(buf, 0), questionEnd, udpSize };
}

/** The ID of a response, or undefined if it is too short to be one. */
export function responseId(buf: Uint8Array): number | undefined {
  return buf.length >= HEADER_SIZE && (buf[2] & FLAG_QR) ? u16(buf, 0) : undefined;
}

/** A copy of `buf` with its ID set to `id`. */
export function withId(buf: Uint8Array, id: number): Uint8Array {
  const out = buf.slice();
  out[0] = id >> 8;
  out[1] = id & 0xff;
  return out;
}

/** The header and question of `query` as an answer with `rcode`, or truncated (TC). */
function answerHead(query: Uint8Array, q: DnsQuery, flags: number, rcode: number): Uint8Array {
  const out = query.slice(0, q.questionEnd);
  out[2] = (out[2] | FLAG_QR | flags) & ~0x04; // QR, keep RD/opcode, clear AA
  out[3] = 0x80 | rcode; // RA: the resolver at the far end recurses
  out.fill(0, 6, 12); // no answer, authority or additional records
  return out;
}

/** SERVFAIL for a query the resolver did not answer. */
export function servfail(query: Uint8Array, q: DnsQuery): Uint8Array {
  return answerHead(query, q, 0, RCODE_SERVFAIL);
}

/**
 * An answer as a UDP client may receive it: unchanged when it fits, else
 * its header and question with TC set, so the client asks again over TCP.
 */
export function fitUdp(answer: Uint8Array, udpSize: number): Uint8Array {
  if (answer.length <= udpSize) return answer;
  const end = answer.length >= HEADER_SIZE ? skipName(answer, HEADER_SIZE) : -1;
  const questionEnd = end < 0 || u16(answer, 4) !== 1 ? HEADER_SIZE : end + 4;
  const out = answer.slice(0, Math.min(questionEnd, answer.length));
  out[2] |= FLAG_TC;
  if (questionEnd === HEADER_SIZE) out.fill(0, 4, 6);
  out.fill(0, 6, 12);
  return out;
}

/** A name in wire form ("example.com" -> 7example3com0), for tests and probes. */
export function encodeName(name: string): Uint8Array {
  const parts = name.replace(/\.$/, "").split(".").filter((p) => p !== "");
  const bytes: number[] = [];
  for (const p of parts) {
    const label = new TextEncoder().encode(p);
    bytes.push(label.length, ...label);
  }
  bytes.push(0);
  return Uint8Array.from(bytes);
}

/** A plain query (RD set) for `name` and `type` with `id`. */
export function buildQuery(id: number, name: string, type = 1): Uint8Array {
  const qname = encodeName(name);
  const out = new Uint8Array(HEADER_SIZE + qname.length + 4);
  out.set([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  out.set(qname, HEADER_SIZE);
  out.set([type >> 8, type & 0xff, 0, 1], HEADER_SIZE + qname.length);
  return out;
}

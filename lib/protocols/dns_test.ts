import assert from "node:assert/strict";
import {
  buildQuery,
  CLASSIC_UDP_SIZE,
  type DnsQuery,
  fitUdp,
  parseQuery,
  responseId,
  servfail,
  withId,
} from "./dns.ts";

/** A query with an EDNS OPT record advertising `size`. */
function ednsQuery(id: number, name: string, size: number): Uint8Array {
  const q = buildQuery(id, name);
  const opt = Uint8Array.of(0, 0, 41, size >> 8, size & 0xff, 0, 0, 0, 0, 0, 0);
  const out = new Uint8Array(q.length + opt.length);
  out.set(q);
  out.set(opt, q.length);
  out[11] = 1; // ARCOUNT
  return out;
}

Deno.test("parseQuery() reads the ID, the question's end and the UDP size", () => {
  const q = parseQuery(buildQuery(0x1234, "only-far.warren.test")) as DnsQuery;
  assert.equal(q.id, 0x1234);
  assert.equal(q.questionEnd, 12 + 22 + 4);
  assert.equal(q.udpSize, CLASSIC_UDP_SIZE);
  assert.equal((parseQuery(ednsQuery(7, "a.b", 4096)) as DnsQuery).udpSize, 4096);
  assert.equal((parseQuery(ednsQuery(7, "a.b", 100)) as DnsQuery).udpSize, CLASSIC_UDP_SIZE);
  assert.equal((parseQuery(buildQuery(1, ".")) as DnsQuery).questionEnd, 12 + 1 + 4);
});

Deno.test("parseQuery() refuses what is not one well-formed standard query", () => {
  const good = buildQuery(1, "example.com");
  const cases: [Uint8Array, RegExp][] = [
    [new Uint8Array(5), /shorter than a DNS header/],
    [Uint8Array.from(good, (b, i) => i === 2 ? b | 0x80 : b), /a response/],
    [Uint8Array.from(good, (b, i) => i === 2 ? b | 0x28 : b), /opcode 5/],
    [Uint8Array.from(good, (b, i) => i === 5 ? 2 : b), /2 questions/],
    [good.slice(0, good.length - 1), /malformed question/],
    [Uint8Array.from(good, (b, i) => i === 12 ? 0x80 : b), /malformed question/],
    [Uint8Array.of(...good, 1, 2, 3), /3 bytes after the last record/],
    [Uint8Array.from(good, (b, i) => i === 11 ? 1 : b), /malformed record/],
  ];
  for (const [packet, pattern] of cases) {
    const r = parseQuery(packet);
    assert.equal(typeof r, "string", `${pattern}`);
    assert.match(r as string, pattern);
  }
});

Deno.test("parseQuery() never throws on random bytes", () => {
  let seed = 12345;
  const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
  for (let i = 0; i < 20_000; i++) {
    const len = next() % 80;
    const packet = Uint8Array.from({ length: len }, next);
    if (i % 3 === 0 && len >= 12) packet[2] &= 0x07; // mostly query-shaped headers
    const r = parseQuery(packet);
    assert.ok(typeof r === "string" || typeof r.id === "number");
  }
});

Deno.test("servfail() answers the question with RCODE 2; withId() and responseId() agree", () => {
  const query = buildQuery(0xbeef, "x.test");
  const q = parseQuery(query) as DnsQuery;
  const r = servfail(query, q);
  assert.equal(responseId(r), 0xbeef);
  assert.equal(r[3] & 0x0f, 2);
  assert.equal(r[2] & 0x01, 1, "RD kept");
  assert.deepEqual(r.subarray(12), query.subarray(12, q.questionEnd));
  assert.equal(responseId(withId(r, 7)), 7);
  assert.equal(responseId(query), undefined, "a query is no response");
});

Deno.test("fitUdp() passes answers that fit and truncates the rest to header + question", () => {
  const query = buildQuery(9, "big.test");
  const q = parseQuery(query) as DnsQuery;
  const answer = new Uint8Array(q.questionEnd + 600);
  answer.set(servfail(query, q));
  answer[3] = 0x80;
  answer[7] = 30; // ANCOUNT (not parsed: only cut)
  assert.equal(fitUdp(answer, 4096), answer);
  const cut = fitUdp(answer, 512);
  assert.equal(cut.length, q.questionEnd);
  assert.equal(cut[2] & 0x02, 0x02, "TC set");
  assert.equal(cut[7], 0, "no answers claimed");
});

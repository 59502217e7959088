import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Duplex } from "node:stream";
import { buildQuery, responseId } from "../../protocols/dns.ts";
import { DnsUpstream, MAX_CHANNELS } from "./upstream.ts";

/**
 * A resolver on a fake channel: answers each framed query by echoing it with
 * QR set (`reverse`: a batch in the opposite order), ends the channel after
 * `closeAfter` answers (RFC 7766 lets it), or never answers (`silent`).
 */
function fakeResolver(options: { closeAfter?: number; silent?: boolean; reverse?: boolean } = {}) {
  const stats = { opened: 0, queries: 0 };
  const open = () => {
    stats.opened++;
    let buf = Buffer.alloc(0);
    let answered = 0;
    const held: Buffer[] = [];
    const d: Duplex = new Duplex({
      read() {},
      write(chunk, _enc, cb) {
        buf = Buffer.concat([buf, chunk]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const len = buf.readUInt16BE(0);
          const q = Buffer.from(buf.subarray(2, 2 + len));
          buf = buf.subarray(2 + len);
          stats.queries++;
          if (options.silent) continue;
          q[2] |= 0x80;
          const frame = Buffer.concat([Buffer.from([len >> 8, len & 0xff]), q]);
          if (options.reverse) held.unshift(frame);
          else d.push(frame);
          answered++;
          if (options.closeAfter !== undefined && answered >= options.closeAfter) {
            for (const f of held.splice(0)) d.push(f);
            d.push(null);
            queueMicrotask(() => d.destroy());
            break;
          }
        }
        // Reversed: a batch of answers goes out in the opposite order.
        if (options.reverse) queueMicrotask(() => held.splice(0).forEach((f) => d.push(f)));
        cb();
      },
    });
    return Promise.resolve(d);
  };
  return { open, stats };
}

Deno.test("DnsUpstream: many queries share few channels; answers keep the client's IDs", async () => {
  const r = fakeResolver({ reverse: true });
  const up = new DnsUpstream(r.open, "test");
  const ids = Array.from({ length: 200 }, (_, i) => i % 7); // clients may reuse IDs
  const answers = await Promise.all(ids.map((id) => up.query(buildQuery(id, "a.test"), id, 5000)));
  assert.deepEqual(answers.map((a) => a && responseId(a)), ids);
  assert.ok(r.stats.opened <= MAX_CHANNELS, `${r.stats.opened} channels`);
  up.close();
});

Deno.test("DnsUpstream: a resolver that closes after each answer: the rest are sent again", async () => {
  const r = fakeResolver({ closeAfter: 1 });
  const up = new DnsUpstream(r.open, "test");
  const answers = await Promise.all(
    [1, 2, 3].map((id) => up.query(buildQuery(id, "a.test"), id, 5000)),
  );
  // 1 is answered on the first channel; 2 and 3 lose it and go once more, on one new
  // channel, which answers 2 and closes: 3 had its second chance.
  assert.deepEqual(answers.map((a) => a && responseId(a)), [1, 2, undefined]);
  assert.equal(r.stats.opened, 2);
  up.close();
});

Deno.test("DnsUpstream: past the deadline, or with no resolver, the answer is undefined", async () => {
  const silent = new DnsUpstream(fakeResolver({ silent: true }).open, "silent");
  assert.equal(await silent.query(buildQuery(1, "a.test"), 1, 50), undefined);
  silent.close();
  const refused = new DnsUpstream(() => Promise.reject(new Error("refused")), "refused");
  assert.equal(await refused.query(buildQuery(1, "a.test"), 1, 5000), undefined);
  refused.close();
});

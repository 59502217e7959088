import assert from "node:assert/strict";
import { OfferRecorder } from "./negotiation.ts";

Deno.test("OfferRecorder: a failed match names the server's offer and the option to set", () => {
  const seen: string[] = [];
  const offers = new OfferRecorder();
  const hook = offers.hook((line) => seen.push(line));
  hook("Handshake: (remote) KEX method: ecdh-sha2-nistp256,ext-info-s");
  hook("Handshake: (remote) C->S cipher: aes256-ctr,aes192-ctr");
  hook("Outbound: Sending KEXINIT");
  assert.equal(seen.length, 3);
  assert.equal(
    offers.explain("Handshake failed: no matching C->S cipher"),
    "no matching C->S cipher; the server offers aes256-ctr, aes192-ctr (choose with -o Ciphers=)",
  );
  assert.equal(
    offers.explain("Handshake failed: no matching key exchange algorithm"),
    "no matching key exchange algorithm; the server offers ecdh-sha2-nistp256, ext-info-s " +
      "(choose with -o KexAlgorithms=)",
  );
  // Not a negotiation failure, or a list that was never seen: left as it is.
  assert.equal(offers.explain("Handshake failed: signature verification failed"), undefined);
  assert.equal(offers.explain("Handshake failed: no matching S->C MAC"), undefined);
});

/**
 * A window adjust from OpenSSH's sshd that nothing follows gets an answer
 * (SSH_MSG_IGNORE), so the kernel does not hold its ACK back: sshd leaves
 * Nagle's algorithm on for tunnels, and the reply it sends just after the
 * adjust waited for that ACK, 40 ms once per 96 KiB a request/response
 * tunnel sent (lib/ssh/transport.ts, onQuietAfterAdjust). Bulk transfers,
 * which always have something to send, answer no adjust.
 *
 * The 40 ms themselves are for `deno task bench` to show, not a test: these
 * check that the answer goes out when it should, and only then.
 */
import assert from "node:assert/strict";
import { type ConnectOptions, connectSsh } from "../lib/ssh/connection.ts";
import { configureCrypto } from "../lib/ssh/crypto/hook.ts";
import { ignoresSent } from "../lib/ssh/ignore.ts";
import { writeAll } from "../lib/net/io.ts";
import { sshdSupport, startSshd } from "./_harness/sshd.ts";
import { startOrigin } from "./_harness/origin.ts";
import { sshOptions, tunnelTo } from "./_harness/real_peers.ts";
import { assertSameBytes, readExactly, roundTrip, testBytes } from "./_harness/local_servers.ts";
import { skipWhen, unsupportedBy } from "./_harness/skip.ts";

const ignore = skipWhen("real-peer tests", unsupportedBy(sshdSupport()));

// The default cipher, and aes-ctr with an HMAC (framed by warren where
// libcrypto loads, as the AEAD ciphers always are).
const CASES: { shown: string; options: Partial<ConnectOptions>; libcrypto: boolean }[] = [
  { shown: "", options: {}, libcrypto: false },
  {
    shown: " (aes128-ctr + hmac-sha2-256)",
    options: { ciphers: ["aes128-ctr"], macs: ["hmac-sha2-256"] },
    libcrypto: true,
  },
];

for (const { shown, options, libcrypto } of CASES) {
  Deno.test(
    {
      name:
        `openssh: a request/response tunnel answers sshd's window adjusts; a bulk one does not${shown}`,
      ignore: ignore || (libcrypto && configureCrypto("auto").name !== "openssl"),
    },
    async (t) => {
      await using sshd = await startSshd();
      await using origin = await startOrigin({ netns: sshd.netns });
      await using ssh = await connectSsh(sshOptions(sshd, options));
      const tunnel = tunnelTo(ssh, origin.echoPort);
      await tunnel.start();
      try {
        const port = tunnel.addresses[0].port;

        await t.step("1 KiB at a time, each echoed before the next", async () => {
          // 400 KiB: sshd adjusts its window after every 96 KiB it passes on.
          const before = ignoresSent();
          const conn = await Deno.connect({ hostname: "127.0.0.1", port });
          try {
            for (let i = 0; i < 400; i++) {
              const msg = testBytes(1024, i);
              await writeAll(conn, msg);
              assertSameBytes(await readExactly(conn, msg.length), msg);
            }
          } finally {
            conn.close();
          }
          const answered = ignoresSent() - before;
          assert.ok(answered >= 2 && answered <= 8, `${answered} adjusts answered`);
        });

        await t.step("16 MiB each way at once", async () => {
          const before = ignoresSent();
          const data = testBytes(16 * 1024 * 1024, 7);
          assertSameBytes(await roundTrip(port, data), data);
          // Some 70 adjusts from sshd arrive while warren parses (answering
          // each, one per turn of the event loop at most, made about 19); one
          // may meet a moment with nothing to send.
          const answered = ignoresSent() - before;
          assert.ok(answered <= 8, `${answered} adjusts answered during a bulk transfer`);
        });
      } finally {
        await tunnel.close();
      }
    },
  );
}

import assert from "node:assert/strict";
import { ctlRequest, resultText } from "./ctl.ts";
import type { ListenerInfo } from "../broker/listeners.ts";

Deno.test("ctlRequest(): commands, their arguments and -L/-R for open-tunnel-listener", () => {
  assert.deepEqual(ctlRequest(["status"], {}), { command: "status", args: {} });
  assert.deepEqual(ctlRequest(["close-connection", "7"], {}), {
    command: "close-connection",
    args: { id: 7 },
  });
  assert.deepEqual(ctlRequest(["close-tunnel-listener", "[::1]:8080"], {}), {
    command: "close-tunnel-listener",
    args: { listener: "[::1]:8080" },
  });
  assert.deepEqual(ctlRequest(["open-tunnel-listener", "bastion"], { local: "8080:web:80" }), {
    command: "open-tunnel-listener",
    args: { direction: "local", spec: "8080:web:80", profile: "bastion" },
  });
  assert.deepEqual(ctlRequest(["open-tunnel-listener", "db"], { remote: "9000:localhost:3000" }), {
    command: "open-tunnel-listener",
    args: { direction: "remote", spec: "9000:localhost:3000", profile: "db" },
  });
  assert.deepEqual(ctlRequest(["open-tunnel-listener", "socks/1080", "b"], {}), {
    command: "open-tunnel-listener",
    args: { direction: "local", spec: "socks/1080", profile: "b" },
  });
});

Deno.test("ctlRequest(): usage mistakes are UsageErrors naming the command", () => {
  for (
    const [positionals, forwards, message] of [
      [[], {}, /missing command/],
      [["frobnicate"], {}, /unknown command 'frobnicate'/],
      [["reload", "now"], {}, /expected 'warren ctl reload'/],
      [["close-connection"], {}, /expected 'warren ctl close-connection ID'/],
      [["close-connection", "-1"], {}, /'-1' is not an id/],
      [["open-tunnel-listener", "8080:a:80"], {}, /expected \[-L\|-R\] SPEC PROFILE/],
      [["open-tunnel-listener", "p"], { local: "1:a:2", remote: "1:a:2" }, /not both/],
      [["status"], { local: "1:a:2" }, /-L\/-R belong to open-tunnel-listener/],
    ] as const
  ) {
    assert.throws(() => ctlRequest([...positionals], forwards), { name: "UsageError", message });
  }
});

Deno.test("resultText(): a listener table with one row per listener", () => {
  const l: ListenerInfo = {
    id: 3,
    direction: "remote",
    type: "tcp",
    listen: ["localhost:8080"],
    destination: "localhost:3000",
    profile: "db",
    origin: "profile",
    state: "listening on the server",
    connections: 1,
    total: 4,
    sent: 2048,
    received: 10,
  };
  assert.equal(
    resultText("list-tunnel-listeners", [l]),
    "ID  TYPE    LISTEN                   DESTINATION     PROFILE  FROM     CONNS  SENT     RECEIVED  STATE\n" +
      "3   -R tcp  localhost:8080 (server)  localhost:3000  db       profile  1/4    2.0 KiB  10 B      listening on the server",
  );
  assert.equal(
    resultText("open-tunnel-listener", l),
    "Opened tunnel listener 3: -R tcp localhost:8080 (on the server) -> localhost:3000 (profile db)",
  );
});

import assert from "node:assert/strict";
import type { ListenerInfo } from "../broker/listeners.ts";
import { UsageError, WarrenError } from "../errors.ts";
import { envText } from "./ctl.ts";

const listener = (id: number, type: ListenerInfo["type"], listen: string[]): ListenerInfo => ({
  id,
  direction: "local",
  type,
  listen,
  destination: "",
  profile: "p",
  origin: "static",
  state: "listening",
  connections: 0,
  total: 0,
  sent: 0,
  received: 0,
});

Deno.test("ctl env: the first socks listener, or the one named, as shell exports", () => {
  const list = [
    listener(1, "tcp", ["127.0.0.1:8080"]),
    listener(2, "socks", ["127.0.0.1:1080", "[::1]:1080"]),
    listener(3, "socks", ["[::1]:2080"]),
  ];
  const first = envText(list);
  assert.match(first, /^export ALL_PROXY='socks5h:\/\/127\.0\.0\.1:1080'$/m);
  assert.match(first, /^export http_proxy='http:\/\/127\.0\.0\.1:1080'$/m);
  assert.match(envText(list, "3"), /^export HTTPS_PROXY='http:\/\/\[::1\]:2080'$/m);
  assert.throws(() => envText(list, "1"), WarrenError);
  assert.throws(() => envText(list, "x"), UsageError);
  assert.throws(() => envText([]), /no socks listener/);
});

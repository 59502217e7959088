import assert from "node:assert/strict";
import { formatControlAddress, parseControlAddress, resolveControlAddress } from "./address.ts";
import { UsageError } from "../errors.ts";

const linux = { os: "linux" as const, uid: 1000 };
const windows = { os: "windows" as const, uid: null };
const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("resolveControlAddress(): -a, then $WARREN_BROKER, then the default", () => {
  const env = envOf({ XDG_RUNTIME_DIR: "/run/user/1000", WARREN_BROKER: "/srv/b.sock" });
  assert.deepEqual(resolveControlAddress("/x.sock", env, linux), { kind: "unix", path: "/x.sock" });
  assert.deepEqual(resolveControlAddress(undefined, env, linux), {
    kind: "unix",
    path: "/srv/b.sock",
  });
  assert.deepEqual(resolveControlAddress(undefined, envOf({}), linux), {
    kind: "unix",
    path: "/tmp/warren-1000/broker.sock",
  });
  const win = resolveControlAddress(undefined, envOf({ LOCALAPPDATA: "C:\\L" }), windows);
  assert.deepEqual(win, {
    kind: "tcp",
    hostname: "127.0.0.1",
    port: 7436,
    tokenFile: "C:\\L\\warren\\broker-tcp-7436.token",
  });
  assert.equal(formatControlAddress(win), "tcp:127.0.0.1:7436");
});

Deno.test("parseControlAddress(): tcp:PORT and tcp:HOST:PORT on loopback only", () => {
  const env = envOf({ XDG_RUNTIME_DIR: "/run/user/1000" });
  assert.deepEqual(parseControlAddress("tcp:9000", env, linux), {
    kind: "tcp",
    hostname: "127.0.0.1",
    port: 9000,
    tokenFile: "/run/user/1000/warren/broker-tcp-9000.token",
  });
  const v6 = parseControlAddress("tcp:[::1]:9000", env, linux);
  assert.equal(formatControlAddress(v6), "tcp:[::1]:9000");
  assert.equal(
    (parseControlAddress("tcp:localhost:1", env, linux) as { hostname: string }).hostname,
    "127.0.0.1",
  );
  assert.throws(() => parseControlAddress("tcp:0.0.0.0:9000", env, linux), {
    name: "UsageError",
    message: "Invalid broker address 'tcp:0.0.0.0:9000': the control port listens on loopback only",
  });
  assert.throws(() => parseControlAddress("tcp:x", env, linux), UsageError);
  assert.throws(() => parseControlAddress("tcp:70000", env, linux), /out of range/);
  assert.throws(() => parseControlAddress("", env, linux), UsageError);
});

import assert from "node:assert/strict";
import { listenForSignals, stopSignals } from "./signals.ts";

Deno.test("stopSignals: Windows gets only Ctrl-C and Ctrl-Break, which Deno can listen for there", () => {
  assert.deepEqual(stopSignals("windows"), ["SIGINT", "SIGBREAK"]);
  for (const os of ["linux", "darwin", "freebsd"] as const) {
    assert.deepEqual(stopSignals(os), ["SIGINT", "SIGTERM", "SIGHUP"]);
  }
});

Deno.test({
  name: "listenForSignals: a signal sent to this process reaches the handler, named",
  ignore: Deno.build.os === "windows",
  async fn() {
    const got = Promise.withResolvers<Deno.Signal>();
    const unlisten = listenForSignals(["SIGUSR2"], got.resolve);
    // A signal listener alone does not keep Deno's event loop alive; this does, and bounds the wait.
    const timer = setTimeout(() => got.reject(new Error("no signal within 10 s")), 10_000);
    try {
      Deno.kill(Deno.pid, "SIGUSR2");
      assert.equal(await got.promise, "SIGUSR2");
    } finally {
      clearTimeout(timer);
      unlisten();
    }
  },
});

import assert from "node:assert/strict";
import { classifyOpenFailure, httpStatus, type OpenFailure, socks5Code } from "./open_failure.ts";

Deno.test("classifyOpenFailure() maps the server's reason and message", () => {
  const cases: [number | undefined, string, OpenFailure, number, number][] = [
    [2, "Server refused h:1: Connection refused", "refused", 0x05, 502],
    [2, "Server refused h:1: No route to host", "host-unreachable", 0x04, 502],
    [2, "Server refused h:1: Host is unreachable", "host-unreachable", 0x04, 502],
    [2, "Server refused x.invalid:80: Name or service not known", "host-unreachable", 0x04, 502],
    [2, "Temporary failure in name resolution", "host-unreachable", 0x04, 502],
    [2, "Server refused h:1: Network is unreachable", "network-unreachable", 0x03, 502],
    [2, "Server refused h:1: Connection timed out", "timeout", 0x04, 504],
    [2, "Server refused h:1: connect failed", "refused", 0x05, 502],
    [1, "Server refused h:1: administratively prohibited", "prohibited", 0x02, 403],
    [1, "Connection refused", "prohibited", 0x02, 403],
    [3, "unknown channel type", "general", 0x01, 502],
    [4, "resource shortage", "general", 0x01, 502],
    [undefined, "Cannot open a channel: Not connected", "general", 0x01, 502],
  ];
  for (const [reason, message, failure, socks, http] of cases) {
    const got = classifyOpenFailure(reason, message);
    assert.equal(got, failure, message);
    assert.equal(socks5Code(got), socks, message);
    assert.equal(httpStatus(got), http, message);
  }
});

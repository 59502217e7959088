import assert from "node:assert/strict";
import { channelWindow, DEFAULT_WINDOW, parseWindow } from "./window.ts";

Deno.test("parseWindow() takes bytes, K and M within 64K..256M", () => {
  assert.equal(parseWindow("8M"), 8 * 1024 * 1024);
  assert.equal(parseWindow("512k"), 512 * 1024);
  assert.equal(parseWindow("65536"), 65536);
  assert.throws(() => parseWindow("1K"), /between 64K and 256M/);
  assert.throws(() => parseWindow("1G"), /expected bytes or a size/);
  assert.throws(() => parseWindow("-5"), /expected bytes or a size/);
});

Deno.test("without WARREN_CHANNEL_WINDOW the window is ssh2's 2 MiB", {
  ignore: Deno.env.get("WARREN_CHANNEL_WINDOW") !== undefined,
}, () => {
  assert.equal(channelWindow, DEFAULT_WINDOW);
});

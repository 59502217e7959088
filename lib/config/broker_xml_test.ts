import assert from "node:assert/strict";
import {
  dumpBrokerConfig,
  loadBrokerConfig,
  parseBrokerConfig,
  resolveConfigPath,
} from "./broker_xml.ts";
import { UsageError } from "../errors.ts";

const ENV: Record<string, string> = { HOME: "/home/ann", USER: "ann" };
const env = (name: string) => ENV[name];
const EXAMPLE = new URL("../../config/ssh-broker-config.xml", import.meta.url).pathname;

Deno.test("the example config parses and its dump parses back to the same config", async () => {
  const config = await loadBrokerConfig(EXAMPLE, env);
  assert.deepEqual(config.warnings, []);
  const dumped = dumpBrokerConfig(config);
  const again = parseBrokerConfig(dumped, config.file, env);
  assert.equal(dumpBrokerConfig(again), dumped);
});

Deno.test("parseBrokerConfig() reports an unknown element at FILE:LINE:COL", () => {
  assert.throws(
    () => parseBrokerConfig("<secsh-broker>\n  <profiles>\n    <bogus/>", "c.xml", env),
    UsageError,
  );
  assert.throws(
    () =>
      parseBrokerConfig(
        "<secsh-broker>\n  <profiles>\n    <bogus/>\n  </profiles>\n</secsh-broker>",
        "c.xml",
        env,
      ),
    { name: "UsageError", message: /^c\.xml:3:5: unknown element <bogus> in <profiles>/ },
  );
});

Deno.test("resolveConfigPath(): --config, then $WARREN_CONFIG, then ~/.ssh2/ssh-broker-config.xml", () => {
  assert.equal(resolveConfigPath("/x.xml", env), "/x.xml");
  assert.equal(
    resolveConfigPath(undefined, (n) => ({ ...ENV, WARREN_CONFIG: "/w.xml" })[n]),
    "/w.xml",
  );
  assert.equal(resolveConfigPath(undefined, env), "/home/ann/.ssh2/ssh-broker-config.xml");
});

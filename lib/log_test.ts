import assert from "node:assert/strict";
import { debugEnabled, LogGate, logger, setLogWriter, setupLogging } from "./log.ts";

const lines: string[] = [];
setLogWriter((line) => lines.push(line));
setupLogging("info");
const log = logger("test");

function flood(gate: LogGate, source: string, n: number, kind = "bad request"): void {
  for (let i = 0; i < n; i++) {
    gate.log(log, "warn", kind, source, "bad requests", "{from}: bad request #{i}", {
      from: `${source}:${40000 + i}`,
      i,
    });
  }
}

Deno.test("LogGate logs the first line of a kind from a source and summarises the rest", () => {
  lines.length = 0;
  const gate = new LogGate();
  flood(gate, "192.0.2.7", 241);
  assert.deepEqual(lines, ["warren: warning: 192.0.2.7:40000: bad request #0\n"]);
  gate.close();
  assert.equal(lines.length, 2);
  assert.match(
    lines[1],
    /^warren: warning: 192\.0\.2\.7: \.\.\. and 240 more bad requests like it in the last 1 s\n$/,
  );
});

Deno.test("LogGate keeps sources and kinds apart", () => {
  lines.length = 0;
  const gate = new LogGate();
  flood(gate, "192.0.2.7", 3);
  flood(gate, "192.0.2.8", 3);
  flood(gate, "192.0.2.7", 3, "other");
  assert.equal(lines.length, 3, lines.join(""));
  assert.ok(gate.busy("bad request", "192.0.2.7"));
  assert.ok(!gate.busy("bad request", "192.0.2.9"));
  gate.close();
  assert.equal(lines.length, 6, lines.join(""));
});

Deno.test("LogGate summarises a flood that goes on once per interval, and forgets a quiet source", async () => {
  lines.length = 0;
  const gate = new LogGate(300);
  const waitFor = async (cond: () => boolean) => {
    while (!cond()) await new Promise((r) => setTimeout(r, 5));
  };
  flood(gate, "192.0.2.7", 5);
  await waitFor(() => lines.length === 2); // the window ends: summary
  assert.match(lines[1], /and 4 more bad requests like it/);
  flood(gate, "192.0.2.7", 2); // the next window has just begun: counted
  assert.equal(lines.length, 2);
  await waitFor(() => lines.length === 3);
  assert.match(lines[2], /and 2 more bad requests like it/);
  await waitFor(() => !gate.busy("bad request", "192.0.2.7")); // a quiet window: forgotten
  assert.equal(lines.length, 3);
  flood(gate, "192.0.2.7", 1);
  assert.match(lines.at(-1)!, /192\.0\.2\.7:40000: bad request #0/);
  gate.close();
});

Deno.test("LogGate counts new sources together beyond its limit", () => {
  lines.length = 0;
  const gate = new LogGate();
  for (let i = 0; i < 1_500; i++) flood(gate, `10.0.${i >> 8}.${i & 255}`, 1);
  assert.equal(lines.length, 1_001);
  gate.close();
  assert.match(lines.at(-1)!, /\(many sources\): \.\.\. and 499 more bad requests like it/);
});

Deno.test("debugEnabled() says what LogTape would: debug lines at -v and -vv only", () => {
  try {
    for (
      const [level, on] of [["error", false], ["info", false], ["debug", true], [
        "trace",
        true,
      ]] as const
    ) {
      setupLogging(level);
      assert.equal(debugEnabled(), on, level);
      assert.equal(debugEnabled(), log.isEnabledFor("debug"), level);
    }
  } finally {
    setupLogging("info");
  }
});

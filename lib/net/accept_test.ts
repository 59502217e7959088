import assert from "node:assert/strict";
import { acceptEach, classifyAcceptError } from "./accept.ts";
import { setLogWriter, setupLogging } from "../log.ts";

const lines: string[] = [];
setLogWriter((line) => lines.push(line));
setupLogging("info");

const osError = (code: string, n: number, text: string) =>
  Object.assign(new Error(`${text} (os error ${n})`), { code });

Deno.test("classifyAcceptError() tells one connection's failure from exhaustion", () => {
  const cases: [unknown, string][] = [
    [osError("ENOTCONN", 107, "Transport endpoint is not connected"), "connection"],
    [new Deno.errors.NotConnected("Transport endpoint is not connected"), "connection"],
    [new Deno.errors.ConnectionReset("Connection reset by peer"), "connection"],
    [new Deno.errors.ConnectionAborted("Software caused connection abort"), "connection"],
    [osError("EPROTO", 71, "Protocol error"), "connection"],
    [osError("EMFILE", 24, "Too many open files"), "exhausted"],
    [osError("ENFILE", 23, "Too many open files in system"), "exhausted"],
    [osError("ENOBUFS", 105, "No buffer space available"), "exhausted"],
    [osError("ENOMEM", 12, "Cannot allocate memory"), "exhausted"],
    [new Error("Too many open files (os error 24)"), "exhausted"],
    [new Error("something new"), "other"],
  ];
  for (const [err, kind] of cases) assert.equal(classifyAcceptError(err), kind, String(err));
});

/** A listener whose accept() fails with `errors` in turn, then yields `conn` and then closes. */
function scripted(errors: unknown[], conn: Deno.Conn): Deno.Listener {
  let i = 0;
  let served = false;
  return {
    accept() {
      if (i < errors.length) return Promise.reject(errors[i++]);
      if (!served) {
        served = true;
        return Promise.resolve(conn);
      }
      return Promise.reject(new Deno.errors.BadResource("closed"));
    },
  } as unknown as Deno.Listener;
}

Deno.test("acceptEach() retries 10,000 reset connections at once and without a word", async () => {
  lines.length = 0;
  const conn = {} as Deno.Conn;
  const got: Deno.Conn[] = [];
  const errors = Array.from(
    { length: 10_000 },
    () => osError("ENOTCONN", 107, "Transport endpoint is not connected"),
  );
  // With a sleep per failure (the old 100 ms) this would take 17 minutes.
  await acceptEach(scripted(errors, conn), "127.0.0.1:1", () => false, (c) => got.push(c));
  assert.deepEqual(got, [conn]);
  assert.deepEqual(lines, []);
});

Deno.test("acceptEach() backs off when out of descriptors and warns once per episode", async () => {
  lines.length = 0;
  const conn = {} as Deno.Conn;
  const got: Deno.Conn[] = [];
  const errors = Array.from({ length: 5 }, () => osError("EMFILE", 24, "Too many open files"));
  await acceptEach(scripted(errors, conn), "127.0.0.1:2", () => false, (c) => got.push(c));
  assert.deepEqual(got, [conn]);
  assert.equal(lines.length, 1, lines.join(""));
  assert.match(
    lines[0],
    /warning: Cannot accept connections on 127\.0\.0\.1:2: Too many open files/,
  );
});

Deno.test("acceptEach() backs off after repeated unknown failures, with one warning", async () => {
  lines.length = 0;
  const conn = {} as Deno.Conn;
  const errors = Array.from({ length: 12 }, () => new Error("something new"));
  await acceptEach(scripted(errors, conn), "127.0.0.1:3", () => false, () => {});
  assert.equal(lines.length, 1, lines.join(""));
  assert.match(lines[0], /Cannot accept connections on 127\.0\.0\.1:3: something new/);
});

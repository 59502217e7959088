import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { parseListen, parseServeArgs } from "./serve.ts";

const run = (argv: string[]) => {
  const r = parseServeArgs(argv);
  assert.equal(r.kind, "run");
  return (r as Extract<typeof r, { kind: "run" }>).config;
};
const usage = (argv: string[], want: RegExp) =>
  assert.throws(
    () => parseServeArgs(argv),
    (e: Error) => e instanceof UsageError && want.test(e.message),
  );

Deno.test("parseServeArgs(): safe defaults", () => {
  assert.deepEqual(run(["--authorized-keys", "ak"]), {
    hostname: "127.0.0.1",
    port: 2222,
    hostKeyPath: undefined,
    authorizedKeysFile: "ak",
    permitOpen: undefined,
    permitListen: undefined,
    permitStreamLocal: undefined,
    gatewayPorts: false,
    maxStartups: undefined,
    verbosity: 0,
  });
});

Deno.test("parseServeArgs(): every option", () => {
  const c = run([
    ...[
      "--authorized-keys=ak",
      "--listen",
      "[::1]:0",
      "--host-key",
      "hk",
      "--gateway-ports",
      "--max-startups",
      "5:50:20",
      "-vv",
    ],
    ...["--permit-open", "db:5432", "--permit-open", "[::1]:*", "--permit-listen", "0"],
    ...["--permit-listen", "localhost:8080"],
    ...["--permit-streamlocal", "/run/app/*.sock"],
  ]);
  assert.deepEqual(c.permitStreamLocal, ["/run/app/*.sock"]);
  assert.equal(c.hostname, "::1");
  assert.equal(c.port, 0);
  assert.equal(c.hostKeyPath, "hk");
  assert.equal(c.gatewayPorts, true);
  assert.deepEqual(c.maxStartups, { start: 5, rate: 50, full: 20 });
  assert.equal(c.verbosity, 2);
  assert.deepEqual(c.permitOpen, [{ host: "db", port: 5432 }, { host: "::1", port: "*" }]);
  assert.deepEqual(c.permitListen, [{ host: "*", port: 0 }, { host: "localhost", port: 8080 }]);
  assert.equal(run(["--authorized-keys", "ak", "-q"]).verbosity, -1);
  assert.deepEqual(parseServeArgs(["--help"]), { kind: "help" });
});

Deno.test("parseServeArgs(): no --authorized-keys is refused with the reason", () => {
  usage(
    [],
    /--authorized-keys FILE is required: warren serve admits only the public keys listed there/,
  );
  usage(["--listen", "2222"], /--authorized-keys FILE is required/);
});

Deno.test("parseServeArgs(): bad values name the option and the value", () => {
  usage(
    ["--authorized-keys", "ak", "--permit-open", "db"],
    /Invalid permit-open 'db': expected host:port/,
  );
  usage(["--authorized-keys", "ak", "--permit-listen", "x:y"], /Invalid permit-listen 'x:y'/);
  usage(
    ["--authorized-keys", "ak", "--permit-streamlocal", "run/x.sock"],
    /--permit-streamlocal 'run\/x\.sock': not an absolute path/,
  );
  usage(
    ["--authorized-keys", "ak", "--listen", "1.2.3.4:99999"],
    /invalid --listen '1\.2\.3\.4:99999'/,
  );
  usage(
    ["--authorized-keys", "ak", "--max-startups", "10:30"],
    /invalid --max-startups '10:30': expected N or start:rate:full/,
  );
  usage(["--authorized-keys", "ak", "--shell"], /Unknown option '--shell'/);
  usage(["--authorized-keys", "ak", "extra"], /unexpected argument 'extra'/);
});

Deno.test("parseListen(): [ADDR:]PORT forms", () => {
  assert.deepEqual(parseListen("2200"), { hostname: "127.0.0.1", port: 2200 });
  assert.deepEqual(parseListen("0.0.0.0:22"), { hostname: "0.0.0.0", port: 22 });
  assert.deepEqual(parseListen("*:22"), { hostname: "::", port: 22 });
  assert.deepEqual(parseListen("localhost:22"), { hostname: "127.0.0.1", port: 22 });
  assert.deepEqual(parseListen("[::1]:2222"), { hostname: "::1", port: 2222 });
  for (const bad of ["::1:22", "host:", "[::1]", "a b:1", "1:2:3"]) {
    assert.throws(() => parseListen(bad), UsageError, bad);
  }
});

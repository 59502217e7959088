import assert from "node:assert/strict";
import { ControlServer } from "./control.ts";
import { controlRequest } from "./control_client.ts";
import { UsageError, WarrenError } from "../errors.ts";
import type { ControlAddress } from "./address.ts";

async function withServer(
  fn: (address: ControlAddress & { kind: "unix" }, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "warren-control-" });
  const address = { kind: "unix" as const, path: `${dir}/sub/broker.sock` };
  const server = await ControlServer.open(address, (command, args) => {
    if (command === "echo") return Promise.resolve({ command, args });
    if (command === "fail") {
      return Promise.reject(new WarrenError("tunnel", "No tunnel listener 9"));
    }
    return Promise.reject(new UsageError(`Unknown command '${command}'`));
  }, (name) => name === "XDG_RUNTIME_DIR" ? `${dir}/xdg` : undefined);
  try {
    await fn(address, dir);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

async function rawRequest(path: string, text: string): Promise<string> {
  const conn = await Deno.connect({ transport: "unix", path });
  try {
    await conn.write(new TextEncoder().encode(text));
    const buf = new Uint8Array(4096);
    let out = "";
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return out;
      out += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

Deno.test("ControlServer: JSON lines over a 0600 Unix socket; errors keep their kind", async () => {
  await withServer(async (address) => {
    assert.equal((await Deno.stat(address.path)).mode! & 0o777, 0o600);
    assert.deepEqual(await controlRequest(address, "echo", { id: 3 }), {
      command: "echo",
      args: { id: 3 },
    });
    await assert.rejects(controlRequest(address, "fail"), {
      name: "WarrenError",
      message: "No tunnel listener 9",
    });
    await assert.rejects(controlRequest(address, "nope"), {
      name: "UsageError",
      message: "Unknown command 'nope'",
    });
  });
});

Deno.test("ControlServer: bad requests get one error line; a second server is refused", async () => {
  await withServer(async (address) => {
    assert.deepEqual(JSON.parse(await rawRequest(address.path, "not json\n")).ok, false);
    assert.match(JSON.parse(await rawRequest(address.path, "not json\n")).error, /^Bad request: /);
    assert.deepEqual(JSON.parse(await rawRequest(address.path, '{"args":{}}\n')), {
      ok: false,
      error: "Bad request: no command",
      usage: true,
    });
    assert.equal(await rawRequest(address.path, "x".repeat(70 * 1024)), "", "too long: dropped");
    await assert.rejects(
      ControlServer.open(address, () => Promise.resolve(null), () => undefined),
      { name: "WarrenError", message: `A broker is already running at ${address.path}` },
    );
    assert.deepEqual(await controlRequest(address, "echo"), { command: "echo", args: {} });
  });
});

Deno.test("controlRequest(): no broker is one WarrenError naming the address", async () => {
  const dir = await Deno.makeTempDir({ prefix: "warren-control-" });
  try {
    await assert.rejects(controlRequest({ kind: "unix", path: `${dir}/none.sock` }, "status"), {
      name: "WarrenError",
      message: `No broker running at ${dir}/none.sock (no socket); start one with 'warren broker'`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ControlServer over TCP: the token file is 0600 and required", async () => {
  const dir = await Deno.makeTempDir({ prefix: "warren-control-" });
  const env = (name: string) => name === "XDG_RUNTIME_DIR" ? dir : undefined;
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const address = {
    kind: "tcp" as const,
    hostname: "127.0.0.1",
    port,
    tokenFile: `${dir}/warren/broker-tcp-${port}.token`,
  };
  const server = await ControlServer.open(address, () => Promise.resolve("pong"), env);
  try {
    assert.equal((await Deno.stat(address.tokenFile)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/warren`)).mode! & 0o777, 0o700);
    assert.equal(await controlRequest(address, "ping"), "pong");
    await Deno.writeTextFile(address.tokenFile, "00".repeat(32));
    await assert.rejects(controlRequest(address, "ping"), /Refused: missing or wrong token/);
  } finally {
    await server.close();
  }
  await assert.rejects(Deno.stat(address.tokenFile), Deno.errors.NotFound);
  await Deno.remove(dir, { recursive: true });
});

/**
 * WarrenServer sends nothing on a channel after its CHANNEL_CLOSE
 * (ssh2_internals.ts, quietAfterClose). ssh2's Client plays the peer whose
 * channel request crosses that CLOSE: when the CLOSE arrives it first sends
 * a want-reply request on the channel (as PuTTY's winadj@putty... may be in
 * flight), then answers the CLOSE. A server reply to that request is the
 * message that made plink drop its whole session; the real-peer case is in
 * tests/peers_test.ts.
 */
import assert from "node:assert/strict";
import { Client, type ClientChannel } from "../ssh/ssh2.ts";
import { setLogWriter, setupLogging } from "../log.ts";
import { loadHostKey } from "./host_key.ts";
import { generateEd25519 } from "./keygen.ts";
import { WarrenServer } from "./server.ts";

interface ClientInternals {
  _chanMgr: { get(local: number): unknown };
  _protocol: {
    _handlers: Record<string, (p: unknown, local: number, ...rest: unknown[]) => void>;
    shell(peerId: number, wantReply: boolean): void;
  };
}

Deno.test("WarrenServer answers no channel request that crosses its CHANNEL_CLOSE", async () => {
  setupLogging("error");
  setLogWriter(() => {});
  const dir = await Deno.makeTempDir({ prefix: "warren-quiet-close-" });
  const key = generateEd25519("client");
  await Deno.writeTextFile(`${dir}/authorized_keys`, `${key.public}\n`);
  const server = await WarrenServer.start({
    hostname: "127.0.0.1",
    port: 0,
    hostKey: await loadHostKey(`${dir}/host_key`, true),
    authorizedKeysFile: `${dir}/authorized_keys`,
    gatewayPorts: false,
  });
  // The destination closes once the client's EOF reaches it: the server then
  // ends and closes the channel while the client has not closed it yet.
  const origin = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepting = (async () => {
    for await (const conn of origin) {
      const buf = new Uint8Array(1024);
      while (await conn.read(buf) !== null) { /* until the client's EOF */ }
      conn.close();
    }
  })();
  const client = new Client();
  try {
    await new Promise<void>((resolve, reject) => {
      client.once("ready", resolve);
      client.once("error", reject);
      client.connect({
        host: "127.0.0.1",
        port: server.address.port,
        username: "tester",
        privateKey: key.private,
      });
    });
    const internals = client as unknown as ClientInternals;
    const handlers = internals._protocol._handlers;
    const replies: string[] = [];
    let crossed = false;
    let ours = -1;
    for (const name of ["CHANNEL_SUCCESS", "CHANNEL_FAILURE"]) {
      const original = handlers[name];
      handlers[name] = (p, local, ...rest) => {
        if (crossed && local === ours) replies.push(name);
        original(p, local, ...rest);
      };
    }
    const onClose = handlers.CHANNEL_CLOSE;
    handlers.CHANNEL_CLOSE = (p, local) => {
      const channel = internals._chanMgr.get(local) as { outgoing: { id: number } };
      if (local === ours && !crossed) {
        crossed = true;
        internals._protocol.shell(channel.outgoing.id, true);
      }
      onClose(p, local);
    };

    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      client.forwardOut("127.0.0.1", 0, "127.0.0.1", origin.addr.port, (err, ch) => {
        if (err) reject(err);
        else resolve(ch);
      });
    });
    ours = (channel as unknown as { incoming: { id: number } }).incoming.id;
    // Half-open after our EOF, as PuTTY is: the server closes first.
    (channel as unknown as { allowHalfOpen: boolean }).allowHalfOpen = true;
    const closed = new Promise((r) => channel.once("close", r));
    channel.resume();
    channel.end();
    await closed;
    assert.ok(crossed, "the server never closed the channel");
    // A global request's reply comes after anything the server sent before it.
    await new Promise<void>((resolve) => client.unforwardIn("127.0.0.1", 1, () => resolve()));
    assert.deepEqual(replies, [], "the server replied on a channel it had closed");
  } finally {
    client.end();
    origin.close();
    await accepting.catch(() => {});
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

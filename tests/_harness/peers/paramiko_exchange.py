"""paramiko as a client of `warren serve`, for the peer matrix
(tests/peers_test.ts): one half-close exchange (see halfclose_peer.ts) run
directly on a paramiko channel, with no local socket in between. Run with
Debian's /usr/bin/python3 and python3-paramiko.

  paramiko_exchange.py --host H --port P --user U --key FILE --known-hosts FILE
      --bytes N --first send|receive [--window BYTES]
      (--direct DHOST:DPORT | --remote RPORT)

--direct opens a direct-tcpip channel (what -L does) and is the near side.
--remote asks for a remote forward on 127.0.0.1:RPORT (what -R does), prints
"ready", accepts the one forwarded-tcpip channel and is the far side there.
Prints one JSON line: sent/received byte counts and SHA-256s, and "error".
"""
import argparse
import hashlib
import json
import random
import sys
import threading
import time

import paramiko

CHUNK = 64 * 1024
# As in halfclose_peer.ts: the side that goes first reads the last 4 MiB of
# the other's bytes slowly, so that they back up into the tunnel.
SLOW_TAIL = 4 * 1024 * 1024


def exchange(chan, first, total, seed):
    data = random.Random(seed).randbytes(total)
    sent, received = hashlib.sha256(), hashlib.sha256()
    counts = {"sent": 0, "received": 0}
    errors = []

    def send():
        try:
            for off in range(0, total, CHUNK):
                piece = data[off:off + CHUNK]
                chan.sendall(piece)
                sent.update(piece)
                counts["sent"] += len(piece)
            chan.shutdown_write()
        except Exception as err:  # noqa: BLE001 - reported, not raised
            errors.append(f"send: {err!r}")

    def receive(slow=False):
        try:
            while True:
                piece = chan.recv(CHUNK)
                if not piece:
                    return
                received.update(piece)
                counts["received"] += len(piece)
                if slow and counts["received"] >= total - SLOW_TAIL:
                    time.sleep(0.002)
        except Exception as err:  # noqa: BLE001 - reported, not raised
            errors.append(f"receive: {err!r}")

    if first == "send":
        reader = threading.Thread(target=receive, args=(True,))
        reader.start()
        send()
        reader.join()
    else:
        receive()
        if not errors:
            send()
    # Both directions have ended: wait for the server's CHANNEL_CLOSE, as
    # OpenSSH does, before the connection goes (a socket closed under
    # unread data resets, and the server would lose what it had not read).
    deadline = time.monotonic() + 20
    while not chan.closed and time.monotonic() < deadline:
        time.sleep(0.01)
    if not chan.closed:
        errors.append("the server did not close the channel within 20 s")
    chan.close()
    report = {
        "sent": counts["sent"],
        "sentSha": sent.hexdigest(),
        "received": counts["received"],
        "receivedSha": received.hexdigest(),
    }
    if errors:
        report["error"] = "; ".join(errors)
    return report


def main(args):
    client = paramiko.SSHClient()
    client.load_host_keys(args.known_hosts)
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        args.host,
        port=args.port,
        username=args.user,
        key_filename=args.key,
        allow_agent=False,
        look_for_keys=False,
        timeout=20,
    )
    transport = client.get_transport()
    if args.window is not None:
        transport.default_window_size = args.window
    try:
        if args.direct:
            host, port = args.direct.rsplit(":", 1)
            chan = transport.open_channel(
                "direct-tcpip", (host, int(port)), ("127.0.0.1", 0), window_size=args.window
            )
            report = exchange(chan, args.first, args.bytes, 2)
        else:
            transport.request_port_forward("127.0.0.1", args.remote)
            print("ready", flush=True)
            chan = transport.accept(timeout=60)
            if chan is None:
                raise RuntimeError("no forwarded connection within 60 s")
            report = exchange(chan, args.first, args.bytes, 1)
        print(json.dumps(report), flush=True)
    finally:
        client.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--known-hosts", required=True)
    p.add_argument("--bytes", type=int, required=True)
    p.add_argument("--first", choices=["send", "receive"], required=True)
    p.add_argument("--window", type=int)
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--direct")
    group.add_argument("--remote", type=int)
    try:
        main(p.parse_args())
    except (OSError, paramiko.SSHException, RuntimeError) as err:
        print(f"paramiko_exchange: {err}", file=sys.stderr)
        sys.exit(1)

"""asyncssh as a forwarding client, like `ssh -N -L ... -R ...`, for the peer
matrix (tests/peers_test.ts). Run with Debian's /usr/bin/python3 and
python3-asyncssh.

  asyncssh_forward.py --host H --port P --user U --key FILE --known-hosts FILE
      [--compression ALGS] [--window BYTES]
      [-L 127.0.0.1:LPORT:DHOST:DPORT]... [-R 127.0.0.1:RPORT:DHOST:DPORT]...

Local forwards listen on 127.0.0.1 with asyncssh's own forwarder, remote
forwards ask the server for 127.0.0.1:RPORT. Prints "ready" once all are set
up and runs until the connection closes or it is killed. --compression is a
comma-separated list (asyncssh's default when absent).
"""
import argparse
import asyncio
import sys

import asyncssh


def forward(spec):
    """127.0.0.1:LPORT:DHOST:DPORT (IPv4 or names only) -> (LPORT, DHOST, DPORT)."""
    _, listen, host, port = spec.split(":")
    return int(listen), host, int(port)


async def main(args):
    options = {}
    if args.compression is not None:
        options["compression_algs"] = args.compression.split(",")
    if args.window is not None:
        options["window"] = args.window
    conn = await asyncssh.connect(
        args.host,
        port=args.port,
        username=args.user,
        client_keys=[args.key],
        known_hosts=args.known_hosts,
        agent_path=None,
        config=None,
        **options,
    )
    async with conn:
        for listen, host, port in map(forward, args.local):
            await conn.forward_local_port("127.0.0.1", listen, host, port)
        for listen, host, port in map(forward, args.remote):
            await conn.forward_remote_port("127.0.0.1", listen, host, port)
        print("ready", flush=True)
        await conn.wait_closed()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--known-hosts", required=True)
    p.add_argument("--compression")
    p.add_argument("--window", type=int)
    p.add_argument("-L", dest="local", action="append", default=[])
    p.add_argument("-R", dest="remote", action="append", default=[])
    try:
        asyncio.run(main(p.parse_args()))
    except (OSError, asyncssh.Error) as err:
        print(f"asyncssh_forward: {err}", file=sys.stderr)
        sys.exit(1)

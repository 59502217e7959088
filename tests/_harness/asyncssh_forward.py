"""asyncssh (Debian's python3-asyncssh) as an SSH client for warren's tests.

Connects with asyncssh's defaults (compression included: zlib@openssh.com
first), opens a local forward 127.0.0.1:0 -> DEST_HOST:DEST_PORT, prints
"compression SEND RECV" and "listening PORT", and stays up until the
connection ends or it is signalled.

usage: asyncssh_forward.py HOST PORT USER KEY KNOWN_HOSTS DEST_HOST DEST_PORT
"""
import asyncio
import sys

import asyncssh


async def main() -> None:
    host, port, user, key, known_hosts, dest_host, dest_port = sys.argv[1:8]
    async with asyncssh.connect(
        host,
        int(port),
        username=user,
        client_keys=[key],
        known_hosts=known_hosts,
        agent_path=None,
    ) as conn:
        send = conn.get_extra_info("send_compression")
        recv = conn.get_extra_info("recv_compression")
        print(f"compression {send} {recv}", flush=True)
        listener = await conn.forward_local_port("127.0.0.1", 0, dest_host, int(dest_port))
        print(f"listening {listener.get_port()}", flush=True)
        await conn.wait_closed()


try:
    asyncio.run(main())
except (OSError, asyncssh.Error) as exc:
    print(f"asyncssh_forward: {exc}", file=sys.stderr)
    sys.exit(1)

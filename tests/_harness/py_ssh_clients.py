"""Python SSH clients (asyncssh, paramiko) as real peers for warren's tests.

Usage: /usr/bin/python3 py_ssh_clients.py SPEC_JSON

SPEC_JSON: {"lib": "asyncssh" | "paramiko", "host", "port", "user",
"known_hosts", "target": [host, port], "bytes": N,
"keys": [{"name", "path", "sig_algs": [...] or null}]}

For each key, in order: connect with that key only (no agent, no config
files), checking the host key against known_hosts; open a direct-tcpip
channel to the target (an echo server), send N bytes, read N bytes back and
compare. Prints one JSON line per key: {"name", "ok", "error"}. Each
connection has its own time limit, so one that hangs fails alone.
"""

import asyncio
import json
import sys
import warnings

TIMEOUT_S = 20


def pattern(n):
    return bytes((i * 7 + 3) & 0xFF for i in range(n))


async def with_asyncssh(spec, key):
    import asyncssh

    options = dict(
        username=spec["user"],
        client_keys=[key["path"]],
        known_hosts=spec["known_hosts"],
        agent_path=None,
        config=None,
        password=None,
        preferred_auth="publickey",
    )
    if key.get("sig_algs"):
        options["signature_algs"] = key["sig_algs"]
    data = pattern(spec["bytes"])
    async with asyncssh.connect(spec["host"], spec["port"], **options) as conn:
        reader, writer = await conn.open_connection(*spec["target"])
        writer.write(data)
        writer.write_eof()
        got = await reader.readexactly(len(data))
        writer.close()
    if got != data:
        raise AssertionError("the echo differs from what was sent")


def with_paramiko(spec, key):
    import paramiko

    client = paramiko.SSHClient()
    client.load_host_keys(spec["known_hosts"])
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    disabled = {}
    if key.get("sig_algs"):
        rsa_algs = ["ssh-rsa", "rsa-sha2-256", "rsa-sha2-512"]
        disabled["pubkeys"] = [a for a in rsa_algs if a not in key["sig_algs"]]
    data = pattern(spec["bytes"])
    try:
        client.connect(
            spec["host"],
            port=spec["port"],
            username=spec["user"],
            key_filename=key["path"],
            allow_agent=False,
            look_for_keys=False,
            timeout=TIMEOUT_S,
            banner_timeout=TIMEOUT_S,
            auth_timeout=TIMEOUT_S,
            disabled_algorithms=disabled,
        )
        chan = client.get_transport().open_channel(
            "direct-tcpip", tuple(spec["target"]), ("127.0.0.1", 0)
        )
        chan.settimeout(TIMEOUT_S)
        chan.sendall(data)
        chan.shutdown_write()
        got = b""
        while len(got) < len(data):
            chunk = chan.recv(65536)
            if not chunk:
                break
            got += chunk
        chan.close()
    finally:
        client.close()
    if got != data:
        raise AssertionError("the echo differs from what was sent (%d bytes back)" % len(got))


def main():
    warnings.simplefilter("ignore")
    spec = json.loads(sys.argv[1])
    for key in spec["keys"]:
        try:
            if spec["lib"] == "asyncssh":
                asyncio.run(asyncio.wait_for(with_asyncssh(spec, key), TIMEOUT_S))
            else:
                with_paramiko(spec, key)
            result = {"name": key["name"], "ok": True, "error": ""}
        except Exception as exc:  # one key's failure is a result, not the end
            result = {"name": key["name"], "ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

/**
 * Connect-and-reset bursts: what a client that gives up under load does, or
 * anyone who wants to stall a listener. Each connection completes the TCP
 * handshake and is closed at once with SO_LINGER 0, so the kernel answers
 * with a RST and the connection dies in the listener's queue before the
 * server accepts it; Deno's accept then fails with "Transport endpoint is not
 * connected (os error 107)".
 *
 * Deno has no SO_LINGER, and node:net's resetAndDestroy() resets only after
 * its own connect callback (most connections are accepted before that), so
 * this runs a few lines of Python (Debian's /usr/bin/python3).
 */
const PYTHON = "/usr/bin/python3";

const SCRIPT = `
import socket, struct, sys
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
for _ in range(n):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.settimeout(10)
    s.connect((host, port))
    s.close()
`;

/** Why bursts cannot be made here, or undefined. */
export function resetBurstUnsupported(): string | undefined {
  try {
    return Deno.statSync(PYTHON).isFile ? undefined : `${PYTHON} not found`;
  } catch {
    return `${PYTHON} not found`;
  }
}

/** `n` connect-and-reset connections to host:port, one after another; throws if any connect fails. */
export async function resetBurst(host: string, port: number, n: number): Promise<void> {
  const child = new Deno.Command(PYTHON, {
    args: ["-c", SCRIPT, host, String(port), String(n)],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    const out = await child.output();
    if (!out.success) {
      throw new Error(`reset burst to ${port} failed: ${new TextDecoder().decode(out.stderr)}`);
    }
  } finally {
    clearTimeout(timer);
  }
}

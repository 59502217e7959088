/** The text of `warren --help`: every option, each with an example. */
import { SSH_OPTION_NAMES } from "./ssh_options.ts";

export const HELP = `warren: SSH tunnels, sshg3-style

Usage:
  warren [options] [user@]host[#port] [-- local-command [args...]]
  warren [options] ssh://[user@]host[:port] [-- local-command [args...]]
  warren [options] PROFILE [-- local-command [args...]]
                 A profile of ssh-broker-config.xml (id or name): its host,
                 settings, gateway-profile and <tunnels>; options override.
  warren config check|dump [FILE]   Check or print an ssh-broker-config.xml
  warren broker [--config FILE] [-a ADDRESS]   Run the broker (foreground)
  warren ctl [-a ADDRESS] [--json] COMMAND     Control the broker (ctl --help)
  warren probe-key [--save-hostkey] host[#port]   Print a server's host key
  warren serve --authorized-keys FILE [options]   An SSH server for tunnels only
                 (no shells); 'warren serve --help' lists its options.

Tunnels:
  -L, --localfwd [tcp/|ftp/][listen-address:]listen-port:dst-host:dst-port
        Listen here, connect dst from the server.
        e.g. -L 5432:db.internal:5432   -L [::1]:8080:[2001:db8::5]:80
        ftp/ also tunnels every FTP data connection (PASV, EPSV, PORT and
        EPRT are rewritten; AUTH TLS is refused: SSH already encrypts).
        e.g. -L ftp/2121:localhost:21   then ftp localhost 2121
  --ftp-trust-pasv-address
        ftp/ passive data connections go to the address the server's 227
        reply names; by default they go to dst-host, whatever it names (a
        hostile server could aim them anywhere the tunnel reaches).
        e.g. --ftp-trust-pasv-address -L ftp/2121:ftp.example:21
  -L, --localfwd socks/[listen-address:]listen-port
        A SOCKS4/4a/5 and HTTP proxy (CONNECT and http:// URLs) on one port;
        the server connects each request (and resolves its host names).
        e.g. -L socks/1080   then curl -x socks5h://localhost:1080 http://intranet/
  -L, --localfwd dns/[listen-address:]listen-port:resolver-host[:port]
        A DNS server here (UDP and TCP); each query goes as DNS-over-TCP
        through SSH to the resolver, which the server connects.
        e.g. -L dns/5353:10.0.0.53   then dig @127.0.0.1 -p 5353 db.corp
  -L, --localfwd /path/local.sock:dst-host:dst-port, [addr:]port:/remote.sock
  -R, --remotefwd /path/remote.sock:dst-host:dst-port, [addr:]port:/local.sock
        Unix domain sockets at either end, as OpenSSH: a path starts with
        / or ./   e.g. -L 2375:/var/run/docker.sock
  --proxy-auth USER:SOURCE
        Require a user on socks/ tunnels (SOCKS5 username/password, HTTP
        Proxy-Authorization: Basic; SOCKS4 is refused); the password comes
        from file://PATH or env://VAR. It keeps others out of a -g proxy
        but travels unencrypted from the client to warren.
        e.g. --proxy-auth=alice:env://PROXY_PW -g -L socks/1080
  --route ACTION:PATTERN[:PORTS]
        Where socks/ requests go, first matching rule wins (repeatable):
        tunnel (through SSH, also when no rule matches), direct (from this
        machine, bypassing SSH) or block (refused). PATTERN is * , a name or
        address wildcard (*.corp.example.com, 192.168.*) or a block
        (10.0.0.0/8, [fd00::]/8); PORTS is N or LOW-HIGH.
        e.g. --route direct:*.lan --route block:*:25 -L socks/1080
  --no-proxy-env
        In '--' mode the command gets ALL_PROXY, HTTP_PROXY, HTTPS_PROXY
        (and lower case) for the first socks/ tunnel, and NO_PROXY from
        --route direct rules; this turns that off.
  -R, --remotefwd [tcp/|ftp/][listen-address:]listen-port:dst-host:dst-port
        The server listens, warren connects dst from here (port 0: the
        server picks and warren prints it).   e.g. -R 8080:localhost:3000
        e.g. -R ftp/2121:localhost:21 (FTP client on the server's side)
  -R, --remotefwd socks/[listen-address:]listen-port
        The server listens; each connection there is a SOCKS4/4a/5 or HTTP
        proxy client that warren connects from here (--route, --proxy-auth
        apply).   e.g. -R socks/1080   then, on the server,
        curl -x socks5h://localhost:1080 http://only-reachable-from-here/
  -g, --gateway          Let other hosts use local tunnels (default: loopback
                         only).   e.g. -g -L 8080:intranet:80
  --abort-on-failing-tunnel
                         Exit 1 if any tunnel cannot listen.
                         e.g. --abort-on-failing-tunnel -L 2345:localhost:2345

Connection:
  --config FILE          ssh-broker-config.xml for PROFILE targets (default
                         $WARREN_CONFIG, then ~/.ssh2/ssh-broker-config.xml).
  -F, --ssh-config FILE  OpenSSH client config for host targets (default
                         ~/.ssh/config; none: no file).   e.g. -F ~/.ssh/work_config
  -G, --print-config     Print the effective settings as ssh -G does, and exit.
                         e.g. -G bastion
  -p, --port PORT        Server port (default 22).        e.g. -p 2222
  -l, --user USER        Login name.                      e.g. -l deploy
  -J, --jump [user@]host[:port|#port][,...]
                         Through jump hosts, outermost first; each one's host
                         key checked as the target's.     e.g. -J bastion,ops@inner#2222
  --proxy URL            Through a proxy: http://[user@]host:port (CONNECT),
                         socks5://[user@]host[:port], socks4a://[user@]host[:port]
                         (-o ProxyUrl=URL; none: direct).  e.g. --proxy http://10.0.0.1:3128
  --proxy-password SOURCE
                         The proxy user's password, as -P. e.g. --proxy-password env://PROXY_PW
  -i, --identity-file FILE
                         Private key (repeatable; default ~/.ssh/id_ed25519,
                         id_ecdsa, id_rsa).               e.g. -i ~/.ssh/ci_key
  -P, --password SOURCE  Password from file://PATH, env://VAR or
                         extprog://COMMAND.               e.g. -P env://DB_PW
  -C, --compression      Ask for zlib compression (-o Compression=yes).
                         e.g. -C
  -B, --batch-mode       Never prompt; fail instead.      e.g. -B
  --hostkey-policy ask|strict|tofu|advisory
                         Unknown/changed host keys (default ask; without a
                         terminal ask refuses like strict).
                         e.g. --hostkey-policy=tofu
  -o Option=value        OpenSSH option: ${SSH_OPTION_NAMES.join(", ")}.
                         e.g. -o ServerAliveInterval=15 -o StrictHostKeyChecking=accept-new

Session:
  -S, --no-session-channel, -N
                         Accepted for compatibility: warren never opens a
                         session channel.                 e.g. -S
  -f, --fork-into-background
                         Go to the background once every tunnel listens; print
                         the PID (-o PidFile=PATH writes it too).
                         e.g. -f -L 2345:localhost:2345
  --one-shot             Exit 0 once a tunneled connection has come and all
                         have closed.                     e.g. -f --one-shot
  -- command [args...]   Run a local command once tunnels listen; exit with its
                         status.   e.g. -L 5432:db:5432 bastion -- npm test

Output:
  -D, --debug LEVEL      Debug level 0-99 (sshg3's -D; for a SOCKS proxy use
                         -L socks/PORT).                  e.g. -D 2
  -v, --verbose          More detail (repeatable).        e.g. -vv
  -q, --quiet            Errors only.                     e.g. -q
  -V, --version          Print the version, Deno version, target and commit.
  -h, --help             Print this help.

Exit status: 0 success, 1 runtime failure (connect, auth, host key, tunnel),
2 usage or configuration error; with '-- command', the command's status.
`;

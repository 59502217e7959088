/**
 * Proxy authentication for socks/ listeners: `--proxy-auth=USER:SOURCE`,
 * where SOURCE is `file://PATH` (the first line of the file) or `env://VAR`.
 * The secret never appears on the command line, in a log line or an error.
 *
 * `check()` compares in constant time: both sides are hashed to equal-length
 * digests and compared with timingSafeEqual, user and password always both,
 * so neither a wrong length nor a wrong user answers faster.
 */
import { Buffer } from "node:buffer";
import { createHash, timingSafeEqual } from "node:crypto";
import { fileProblem, UsageError } from "../../errors.ts";

export interface ProxyAuthSpec {
  user: string;
  /** file://PATH or env://VAR */
  source: string;
}

/** Parse `USER:SOURCE` (the user may not contain ':', as in HTTP Basic). */
export function parseProxyAuth(text: string): ProxyAuthSpec {
  const colon = text.indexOf(":");
  const user = colon < 0 ? "" : text.slice(0, colon);
  const source = text.slice(colon + 1);
  if (colon <= 0 || !/^(file|env):\/\/./.test(source)) {
    throw new UsageError(
      "Invalid --proxy-auth: expected USER:file://PATH or USER:env://VAR " +
        "(a password in the arguments is visible to other users)",
    );
  }
  if (new TextEncoder().encode(user).length > 255) {
    throw new UsageError("Invalid --proxy-auth: the user name is longer than 255 bytes");
  }
  return { user, source };
}

export class ProxyCredentials {
  readonly user: string;
  #user: Buffer;
  #password: Buffer;

  constructor(user: string, password: string) {
    this.user = user;
    this.#user = digest(new TextEncoder().encode(user));
    this.#password = digest(new TextEncoder().encode(password));
  }

  /** Read the secret from its source. */
  static async load(spec: ProxyAuthSpec): Promise<ProxyCredentials> {
    return new ProxyCredentials(spec.user, await readSecret(spec.source));
  }

  /** Whether the client's user and password match, in constant time. */
  check(user: Uint8Array, password: Uint8Array): boolean {
    const userOk = timingSafeEqual(digest(user), this.#user);
    const passwordOk = timingSafeEqual(digest(password), this.#password);
    return userOk && passwordOk;
  }
}

function digest(bytes: Uint8Array): Buffer {
  return createHash("sha256").update(bytes).digest();
}

async function readSecret(source: string): Promise<string> {
  const m = /^(file|env):\/\/(.+)$/s.exec(source);
  if (!m) throw new UsageError("Invalid --proxy-auth source: use file://PATH or env://VAR");
  let secret: string | undefined;
  if (m[1] === "env") {
    secret = Deno.env.get(m[2]);
    if (secret === undefined) {
      throw new UsageError(`Cannot read the --proxy-auth password: $${m[2]} is not set`);
    }
  } else {
    try {
      secret = (await Deno.readTextFile(m[2])).split(/\r?\n/)[0];
    } catch (err) {
      throw new UsageError(
        `Cannot read the --proxy-auth password file ${m[2]}: ${fileProblem(err)}`,
      );
    }
  }
  if (secret === "") {
    throw new UsageError(`The --proxy-auth password from ${source} is empty`);
  }
  return secret;
}

/**
 * Client authentication, by default in OpenSSH's order: publickey (the agent,
 * then identity files: the -i files, else ~/.ssh/id_ed25519, id_ecdsa,
 * id_rsa), then keyboard-interactive, then password. `methods` chooses which
 * of them are tried and in what order (-o PreferredAuthentications, a
 * profile's <authentication-methods>). Methods the server does not offer are
 * skipped. Encrypted keys ask for their passphrase on the terminal; answers
 * for password prompts come from `-P SOURCE` or the terminal. Nothing here
 * logs a secret.
 *
 * A key the server accepts may still fail to sign (ssh2 reports it as an
 * authentication error, then goes on with the next method): `noteError()`
 * marks that key in `tried`, so the final message names the cause instead
 * of only "the server accepts publickey".
 */
import { Buffer } from "node:buffer";
import { utils } from "./ssh2.ts";
import type { Prompter } from "./prompt.ts";
import { readPasswordSource } from "./password_source.ts";
import { fileProblem, InterruptedError } from "../errors.ts";
import { logger } from "../log.ts";

const log = logger("ssh", "auth");

/** The authentication methods warren implements, by their SSH names. */
export type AuthMethodName = "publickey" | "keyboard-interactive" | "password";

/** OpenSSH's default order, less the methods warren does not implement. */
export const DEFAULT_AUTH_METHODS: readonly AuthMethodName[] = [
  "publickey",
  "keyboard-interactive",
  "password",
];

export interface AuthOptions {
  user: string;
  /** The server's host, for the password prompt ("user@host's password: "). */
  host?: string;
  /** The methods to try, in order (default DEFAULT_AUTH_METHODS). */
  methods?: readonly AuthMethodName[];
  /** Key files to try, in order. */
  identityFiles: string[];
  /** Whether the files were named by the user (a missing one is a warning). */
  explicitIdentities: boolean;
  agentSocket?: string;
  passwordSource?: string;
  prompter?: Prompter;
  /** Wraps every terminal question (to pause the handshake deadline). */
  whilePrompting<T>(question: () => Promise<T>): Promise<T>;
  /** Ctrl-C at a question: the connection is to be abandoned, not authentication go on. */
  onInterrupt?(err: InterruptedError): void;
}

// ssh2's authHandler result: a method object, or false to give up.
// deno-lint-ignore no-explicit-any
type AuthMethod = Record<string, any> | false;
type Next = (methodsLeft: string[] | null) => Promise<AuthMethod | null>;

export interface AuthPlan {
  handler(
    methodsLeft: string[] | null,
    partial: boolean | null,
    callback: (next: AuthMethod) => void,
  ): void;
  /** What was tried, for the failure message. */
  tried: string[];
  /** The methods the server last said it accepts. */
  serverMethods: string[] | null;
  /**
   * Take an ssh2 'client-authentication' error: true when it was a key that
   * could not sign (noted; ssh2 goes on with the next method), false when
   * authentication is over.
   */
  noteError(err: Error): boolean;
}

/** How ssh2 1.17 words a failure to sign (client.js), before the cause. */
const SIGN_ERROR = /^Error (?:signing data|while signing) with key: /;

const PASSWORD_TRIES = 3;

export function planAuth(opts: AuthOptions): AuthPlan {
  const steps: Next[] = [];
  const tried: string[] = [];
  /** The identity file tried last, and its entry in `tried`. */
  let lastFile: { file: string; entry: number } | undefined;
  let password: Promise<string> | undefined;
  const secret = (prompt: string): Promise<string> | undefined => {
    if (opts.passwordSource !== undefined) {
      return password ??= readPasswordSource(opts.passwordSource);
    }
    const p = opts.prompter;
    return p && opts.whilePrompting(() => p.secret(prompt));
  };
  const user = opts.user;

  const publickey: Next[] = [];
  const keyboardInteractive: Next[] = [];
  const passwords: Next[] = [];
  if (opts.agentSocket) {
    publickey.push((left) => {
      if (left && !left.includes("publickey")) return Promise.resolve(null);
      tried.push("publickey (agent)");
      lastFile = undefined;
      return Promise.resolve({
        type: "agent",
        username: user,
        agent: opts.agentSocket,
      });
    });
  }
  for (const file of opts.identityFiles) {
    publickey.push(async (left) => {
      if (left && !left.includes("publickey")) return null;
      const key = await loadKey(file, opts);
      if (key === null) return null;
      lastFile = { file, entry: tried.length };
      tried.push(`publickey (${file})`);
      return {
        type: "publickey",
        username: user,
        key: key.data,
        passphrase: key.passphrase,
      };
    });
  }
  const canAnswer = opts.passwordSource !== undefined ||
    opts.prompter !== undefined;
  if (canAnswer) {
    keyboardInteractive.push((left) => {
      if (left && !left.includes("keyboard-interactive")) {
        return Promise.resolve(null);
      }
      tried.push("keyboard-interactive");
      return Promise.resolve({
        type: "keyboard-interactive",
        username: user,
        prompt: (
          _name: string,
          _instructions: string,
          _lang: string,
          prompts: { prompt: string; echo?: boolean }[],
          finish: (answers: string[]) => void,
        ) => {
          answerAll(prompts, secret, opts).then(finish, (err) => {
            if (err instanceof InterruptedError && opts.onInterrupt) return opts.onInterrupt(err);
            log.error("{error}", { error: String(err?.message ?? err) });
            finish([]);
          });
        },
      });
    });
    const tries = opts.passwordSource !== undefined ? 1 : PASSWORD_TRIES;
    for (let i = 0; i < tries; i++) {
      passwords.push(async (left) => {
        if (left && !left.includes("password")) return null;
        const pw = await secret(`${opts.host ? `${user}@${opts.host}` : user}'s password: `);
        if (pw === undefined) return null;
        if (i === 0) tried.push("password");
        return { type: "password", username: user, password: pw };
      });
    }
  }

  // "none" first, as OpenSSH does: it learns which methods the server takes.
  steps.push(() => Promise.resolve({ type: "none", username: user }));
  const byMethod = {
    publickey,
    "keyboard-interactive": keyboardInteractive,
    password: passwords,
  };
  for (const m of opts.methods ?? DEFAULT_AUTH_METHODS) steps.push(...byMethod[m]);

  const plan: AuthPlan = {
    tried,
    serverMethods: null,
    noteError(err) {
      if (!SIGN_ERROR.test(err.message)) return false;
      const reason = err.message.replace(SIGN_ERROR, "");
      if (lastFile !== undefined) {
        const { file, entry } = lastFile;
        tried[entry] = `publickey (${file}: the key could not sign: ${reason})`;
        log.warn("Identity file {file} could not sign: {reason}", { file, reason });
      } else {
        log.warn("A key could not sign: {reason}", { reason });
      }
      return true;
    },
    handler(methodsLeft, _partial, callback) {
      if (methodsLeft) plan.serverMethods = methodsLeft;
      (async () => {
        while (steps.length > 0) {
          const next = await steps.shift()!(methodsLeft);
          if (next !== null) return next;
        }
        return false as const;
      })().then(callback, (err) => {
        if (err instanceof InterruptedError && opts.onInterrupt) return opts.onInterrupt(err);
        log.error("{error}", { error: String(err?.message ?? err) });
        callback(false);
      });
    },
  };
  return plan;
}

async function answerAll(
  prompts: { prompt: string; echo?: boolean }[],
  secret: (prompt: string) => Promise<string> | undefined,
  opts: AuthOptions,
): Promise<string[]> {
  const answers: string[] = [];
  for (const p of prompts) {
    if (p.echo && opts.prompter) {
      const prompter = opts.prompter;
      answers.push(await opts.whilePrompting(() => prompter.secret(p.prompt)));
    } else {
      answers.push((await secret(p.prompt)) ?? "");
    }
  }
  return answers;
}

interface LoadedKey {
  data: Buffer;
  passphrase?: string;
}

/** Read a private key; ask for its passphrase when it is encrypted. */
async function loadKey(
  file: string,
  opts: AuthOptions,
): Promise<LoadedKey | null> {
  let data: Buffer;
  try {
    // A Buffer, not a Uint8Array: ssh2 silently ignores the latter.
    data = Buffer.from(await Deno.readFile(file));
  } catch (err) {
    const reason = fileProblem(err);
    const line = "Identity file {file} not usable: {reason}";
    if (opts.explicitIdentities) log.warn(line, { file, reason });
    else log.debug(line, { file, reason });
    return null;
  }
  const parsed = utils.parseKey(data);
  if (!(parsed instanceof Error)) {
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    if (!key.isPrivateKey()) {
      log.warn("Identity file {file} is a public key: {fix}", {
        file,
        fix: await privateFor(file),
      });
      return null;
    }
  }
  // As OpenSSH: a private key other users can read is not used (it may be theirs too by now).
  const open = await openMode(file);
  if (open !== undefined) {
    log.warn(
      "Identity file {file} not used: mode {mode} lets other users read it (chmod 600 {file})",
      { file, mode: open },
    );
    return null;
  }
  if (!(parsed instanceof Error)) return { data };
  if (!/passphrase|encrypted/i.test(parsed.message)) {
    log.warn("Identity file {file} skipped: {reason}", {
      file,
      reason: parsed.message,
    });
    return null;
  }
  const prompter = opts.prompter;
  if (prompter === undefined) {
    log.info(
      "Identity file {file} is encrypted and there is no terminal to ask for its passphrase: skipped",
      { file },
    );
    return null;
  }
  for (let attempt = 0; attempt < 3; attempt++) {
    const passphrase = await opts.whilePrompting(() =>
      prompter.secret(`Enter passphrase for key '${file}': `)
    );
    if (passphrase === "") return null;
    if (!(utils.parseKey(data, passphrase) instanceof Error)) {
      return { data, passphrase };
    }
    log.warn("Bad passphrase for {file}", { file });
  }
  return null;
}

/** How to name the private key of the public key file `file`. */
async function privateFor(file: string): Promise<string> {
  const beside = file.replace(/\.pub$/, "");
  if (beside !== file && await Deno.stat(beside).then((i) => i.isFile, () => false)) {
    return `give its private key, ${beside}`;
  }
  return "give the private key file (the one without .pub)";
}

/** The file's mode as "0644" when group or others may read or write it (Unix only). */
async function openMode(file: string): Promise<string | undefined> {
  if (Deno.build.os === "windows") return undefined;
  const mode = ((await Deno.stat(file).catch(() => undefined))?.mode ?? 0) & 0o777;
  return (mode & 0o077) !== 0 ? mode.toString(8).padStart(4, "0") : undefined;
}

/**
 * Tectia elements warren does not implement, by where they appear, each with
 * its verdict. The rule:
 *
 * - error: ignoring it could send traffic somewhere the user did not mean it
 *   to go, or weaken host key checking or crypto the user asked for
 *   (filter-engine rules, FIPS mode, the deprecated host key switches);
 *   the file must be changed before warren runs it;
 * - warning: it only concerns things warren does not have (GUI, sessions,
 *   SFTP, X11/agent forwarding, certificates, key stores) or tuning; warren
 *   runs without it and names it each time the file is read. Where the
 *   result is a failed connection (a key only in a key store, a server known
 *   only by certificate) it fails closed, never open.
 *
 * A value of an element or attribute warren knows is not listed here: the
 * reader rejects it as a bad value.
 */
import type { XmlElement } from "./xml_tree.ts";

export interface Verdict {
  severity: "error" | "warning";
  why: string;
}

type Rule = (el: XmlElement) => Verdict;

const error = (why: string): Rule => () => ({ severity: "error", why });
const warning = (why: string): Rule => () => ({ severity: "warning", why });

const HOSTKEY_SWITCH = error(
  "deprecated since Tectia 6.1.4; use " +
    '<server-authentication-methods><auth-server-publickey policy="strict|ask|tofu|advisory"/>',
);

/**
 * Tectia attributes warren does not implement, by element: element name →
 * attribute name → verdict (the same rule as for elements above).
 */
export const UNSUPPORTED_ATTRS: Record<string, Record<string, Verdict>> = {
  "auth-publickey": {
    "signature-algorithms": {
      severity: "error",
      why: "warren signs with the algorithm ssh2 picks for the key (for RSA rsa-sha2-512 or " +
        "-256 when the server offers them, else ssh-rsa), so it cannot keep to this list",
    },
  },
  identity: {
    id: { severity: "warning", why: "reserved by Tectia for future use" },
    data: { severity: "warning", why: "reserved by Tectia for future use" },
  },
};

/** scope → element name → verdict. Scope "settings" is <default-settings> and <profile>. */
export const UNSUPPORTED: Record<string, Record<string, Rule>> = {
  "secsh-broker": {
    gui: warning("warren has no GUI"),
  },
  general: {
    "cert-validation": warning(
      "warren accepts no certificates, so servers known only by certificate are refused",
    ),
    "key-stores": warning(
      "keys are read only from <user-identities><identity file>, the agent and ~/.ssh",
    ),
    "user-config-directory": warning("warren reads only the files this config names"),
    "file-access-control": warning("warren offers no file transfer"),
    "protocol-parameters": warning("warren has no tuning knobs for threads"),
    extended: warning("reserved by Tectia for future use"),
    "strict-host-key-checking": HOSTKEY_SWITCH,
    "host-key-always-ask": HOSTKEY_SWITCH,
    "accept-unknown-host-keys": HOSTKEY_SWITCH,
  },
  settings: {
    rekey: warning("warren does not start rekeying by byte count (the server's rekeying works)"),
    "hostbased-default-domain": warning("warren does not do hostbased authentication"),
    "exclusive-connection": warning("the broker shares one connection per profile"),
    "server-banners": warning("warren does not show server banners"),
    forwards: warning("warren opens no session, so there is no X11 or agent to forward"),
    extended: warning("warren has no extended settings"),
    "remote-environment": warning("warren opens no session to pass an environment to"),
    "authentication-success-message": warning("warren prints no login message"),
    "quiet-mode": warning("use -q on the command line"),
    checksum: warning("warren offers no file transfer"),
    "sftpg3-mode": warning("warren offers no file transfer"),
    "terminal-selection": warning("warren has no terminal window"),
    "terminal-bell": warning("warren has no terminal window"),
    "close-window-on-disconnect": warning("warren has no terminal window"),
    "address-family": warning("warren connects over whichever of IPv4 and IPv6 answers"),
  },
  "authentication-methods": {
    "auth-hostbased": warning("warren does not do hostbased authentication"),
    "auth-gssapi": warning("warren does not do GSSAPI (Kerberos) authentication"),
  },
  "auth-publickey": {
    "key-selection": warning("warren tries keys in order: agent, identity files, ~/.ssh"),
  },
  "known-hosts": {
    "key-store": warning("host certificates in a z/OS key store are not read"),
  },
  "log-events": {
    "log-target": warning("every event goes to the <logging> target"),
  },
  "server-authentication-methods": {
    "auth-server-certificate": warning(
      "warren accepts no host certificates; host keys are checked instead",
    ),
  },
};

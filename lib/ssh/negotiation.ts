/**
 * What the server offered, for the one line that explains a failed algorithm
 * negotiation. ssh2 says only "Handshake failed: no matching C->S cipher";
 * OpenSSH adds "Their offer: ...", which is what a user needs to choose a
 * `-o Ciphers=` (or MACs, KexAlgorithms, HostKeyAlgorithms) that works.
 *
 * ssh2 reports the remote lists only through its debug hook, so the hook is
 * set for the first key exchange and taken away after it unless the user
 * asked for protocol debugging (it would otherwise cost a string per packet).
 */

/** ssh2's debug label for each list, by the words of its failure message. */
const LABELS: Record<string, string> = {
  "key exchange algorithm": "KEX method",
  "host key format": "Host key format",
  "C->S cipher": "C->S cipher",
  "S->C cipher": "S->C cipher",
  "C->S MAC": "C->S MAC",
  "S->C MAC": "S->C MAC",
  "C->S compression": "C->S compression",
  "S->C compression": "S->C compression",
};

/** The -o option that sets each list. */
const OPTIONS: Record<string, string> = {
  "key exchange algorithm": "KexAlgorithms",
  "host key format": "HostKeyAlgorithms",
  "C->S cipher": "Ciphers",
  "S->C cipher": "Ciphers",
  "C->S MAC": "MACs",
  "S->C MAC": "MACs",
};

export class OfferRecorder {
  #offers = new Map<string, string>();

  /** ssh2's debug hook: keeps "(remote)" lists, passes every line on. */
  hook(forward?: (line: string) => void): (line: string) => void {
    return (line: string) => {
      const m = /^Handshake: \(remote\) (.+?): (.*)$/.exec(line);
      if (m) this.#offers.set(m[1], m[2]);
      forward?.(line);
    };
  }

  /**
   * ssh2's handshake error, with what the server offered where it names a
   * failed negotiation; otherwise undefined.
   */
  explain(message: string): string | undefined {
    const m = /no matching (.+)$/.exec(message);
    if (!m) return undefined;
    const what = m[1];
    const offer = this.#offers.get(LABELS[what] ?? "");
    if (offer === undefined) return undefined;
    const option = OPTIONS[what];
    return `no matching ${what}; the server offers ${offer.split(",").join(", ")}` +
      (option ? ` (choose with -o ${option}=)` : "");
  }
}

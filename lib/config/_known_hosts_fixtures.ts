/**
 * Test fixtures for known_hosts and the host-key policy: real public keys made
 * once with `ssh-keygen -t ed25519|ecdsa -N ''` with their `ssh-keygen -l`
 * fingerprints, and a runner for the real ssh-keygen.
 */

import { Buffer } from "node:buffer";

export const ED_A = "AAAAC3NzaC1lZDI1NTE5AAAAIHhtIjyLvOU+FEdDQtAIitV12kqVXjSEcwEbPr+7RqxO";
export const ED_A_FP = "SHA256:RfpPq799+jzLiWpxktgpEYECJnLluuLVVdPh6YyQQCQ";
export const ED_B = "AAAAC3NzaC1lZDI1NTE5AAAAID4XkcewBt8KUl9YzpWXDfxOsKW5W8uRwxvkLLWIoHM6";
export const ED_B_FP = "SHA256:CcaGmu0aVQD26jyH17mShSLTjJqynYfEQ+QEQjYYOS0";
export const ED_C = "AAAAC3NzaC1lZDI1NTE5AAAAIJj1OVbl7NkGk1emhxg+9sXy9XrkiqkdSmvDB/8UOpR2";
export const ED_C_FP = "SHA256:kq1tsHn9sAA0sCNiU2lGvMoDx5iKDFEY/w+msUrQkAw";
export const EC_A =
  "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHFVZ10RLfM4TyhM9BB+CBVpxKrNShA6mx6vwwC4+1I1n1PhrLvstLplbnvdukpurLWrr9VwcLfOE2GFRm9iuyM=";
export const EC_A_FP = "SHA256:3QqXvyfeG+8iF964UVF9BOEFohQyLwWZw5hQ2Acy5j8";

/** The bytes of a base64 key. */
export function blob(base64: string): Uint8Array {
  return new Uint8Array(Buffer.from(base64, "base64"));
}

/** Run ssh-keygen; stdout and the exit code. */
export async function sshKeygen(
  args: string[],
): Promise<{ code: number; stdout: string }> {
  const out = await new Deno.Command("ssh-keygen", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

async function haveSshKeygen(): Promise<boolean> {
  try {
    await sshKeygen(["-l", "-f", "/dev/null"]);
    return true;
  } catch {
    return false;
  }
}

/** Whether the real ssh-keygen can be run; tests needing it are ignored if not. */
export const HAVE_SSH_KEYGEN = await haveSshKeygen();
if (!HAVE_SSH_KEYGEN) {
  console.warn("ssh-keygen not found: ignoring the tests that need it");
}

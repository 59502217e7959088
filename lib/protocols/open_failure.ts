/**
 * Why a tunneled connection could not be opened, in the terms proxy replies
 * use. The input is what the SSH server said when it refused the channel:
 * the RFC 4254 reason code (1 administratively prohibited, 2 connect failed,
 * 3 unknown channel type, 4 resource shortage) and its description.
 * OpenSSH reports every connect(2) and getaddrinfo failure as code 2 with
 * the system's message ("Connection refused", "No route to host", "Name or
 * service not known", ...), so the message refines code 2.
 */
import { REP } from "./socks.ts";

export type OpenFailure =
  | "refused"
  | "host-unreachable"
  | "network-unreachable"
  | "timeout"
  | "prohibited"
  | "general";

export const OPEN_ADMINISTRATIVELY_PROHIBITED = 1;
export const OPEN_CONNECT_FAILED = 2;

export function classifyOpenFailure(reason: number | undefined, message: string): OpenFailure {
  if (reason === OPEN_ADMINISTRATIVELY_PROHIBITED) return "prohibited";
  if (reason !== OPEN_CONNECT_FAILED) return "general";
  if (/network is unreachable/i.test(message)) return "network-unreachable";
  if (/timed out/i.test(message)) return "timeout";
  if (/no route|unreachable|name or service|name resolution|not known|no address/i.test(message)) {
    return "host-unreachable";
  }
  return "refused";
}

const SOCKS5: Record<OpenFailure, number> = {
  "refused": REP.connectionRefused,
  "host-unreachable": REP.hostUnreachable,
  "network-unreachable": REP.networkUnreachable,
  "timeout": REP.hostUnreachable,
  "prohibited": REP.notAllowed,
  "general": REP.generalFailure,
};

/** The SOCKS5 reply code for a failure. */
export function socks5Code(failure: OpenFailure): number {
  return SOCKS5[failure];
}

/** The HTTP status a proxy answers with. */
export function httpStatus(failure: OpenFailure): number {
  if (failure === "prohibited") return 403;
  if (failure === "timeout") return 504;
  return 502;
}

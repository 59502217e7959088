/**
 * What to do with a host key that known_hosts does not vouch for (the table
 * is in lib/ssh/host_key.ts, which applies it): a setting of the command line,
 * the XML profiles and ssh_config alike.
 */
export type HostKeyPolicy = "ask" | "strict" | "tofu" | "advisory";

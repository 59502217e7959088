/** Log-like text: compressible, but not trivially. */
export function logText(bytes: number, seed = 1): Buffer {
  const words = ["tunnel", "ssh", "warren", "packet", "zlib", "window", "channel", "rekey"];
  let x = seed;
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    x = (x * 1103515245 + 12345) >>> 0;
    const line = `${x % 100000} ${words[x % 8]} ${words[(x >>> 8) % 8]} ${(x >>> 4) % 997}\n`;
    parts.push(line);
    n += line.length;
  }
  return Buffer.from(parts.join("")).subarray(0, bytes);
}

/** warren's version; deno.json carries the same string (a test checks). */
export const VERSION = "0.1.0";

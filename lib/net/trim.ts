/**
 * Giving memory back after a burst of connections.
 *
 * After thousands of tunneled connections, V8's heap and the buffers it
 * holds outside the heap go back to their idle size, but the process's RSS
 * does not: the buffers were allocated by the C library's malloc (glibc on
 * Linux), which keeps freed memory in its arenas for reuse rather than
 * returning it to the system. Measured (tests/bench/memory_soak.ts): 30,000
 * connections, then 60 s idle: V8 heap and external memory at their idle
 * figures, RSS 155 MiB against 76 MiB at start; glibc's malloc_trim(0)
 * brought it to 80 MiB in a few milliseconds.
 *
 * So once connections have closed in numbers (MIN_CLOSES, or as many MiB
 * moved) and none has for 5 s, warren calls malloc_trim(0), and again 20 s and 60 s after the last
 * close for what the garbage collector frees meanwhile. Only on Linux, when FFI is permitted and
 * libc.so.6 (glibc, already loaded in the process) has malloc_trim;
 * elsewhere nothing happens. main.ts binds it before it drops the ffi
 * permission (`bindMemoryTrim`: nothing is loaded, libc is in the process
 * already; not with WARREN_CRYPTO=builtin, which keeps warren off native
 * code), the commands that run tunnels start it (`startMemoryTrim`), and
 * tunnels report closes (`connectionClosed`).
 */

const MIN_CLOSES = 100;
/**
 * When to trim, counted from the last close of a burst: at once when it is
 * over, then twice more for what V8 frees later (its heap shrinks some
 * 10-60 s after the load, and the buffers it held go back to malloc then).
 */
const TRIM_AFTER_MS = [5_000, 20_000, 60_000];

interface Trimmer {
  trim(): void;
  close(): void;
}

/** malloc_trim, once bound; bound at most once per process. */
let bound: Trimmer | undefined;
let active = false;
let closes = 0;
let lastClose = 0;
/** The index in TRIM_AFTER_MS of the next trim of this burst. */
let step = 0;
let timer: ReturnType<typeof setTimeout> | undefined;

/** glibc's malloc_trim through FFI, or undefined where that is not available. */
function openTrimmer(): Trimmer | undefined {
  if (Deno.build.os !== "linux") return undefined;
  try {
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return undefined;
    const libc = Deno.dlopen("libc.so.6", {
      malloc_trim: { parameters: ["usize"], result: "i32" },
    });
    return {
      trim: () => void libc.symbols.malloc_trim(0n),
      close: () => libc.close(),
    };
  } catch {
    return undefined; // not glibc (musl has no libc.so.6), or no permission
  }
}

/**
 * Bind malloc_trim now: opening the library needs the ffi permission, calling
 * it later does not, so main.ts binds it before it drops ffi. True if bound.
 */
export function bindMemoryTrim(): boolean {
  bound ??= openTrimmer();
  return bound !== undefined;
}

/** Close the binding (tests). */
export function unbindMemoryTrim(): void {
  bound?.close();
  bound = undefined;
}

/** Start trimming after bursts (once per process); returns the stop function. */
export function startMemoryTrim(): () => void {
  if (active || !bindMemoryTrim()) return () => {};
  active = true;
  return () => {
    clearTimeout(timer);
    timer = undefined;
    active = false;
    closes = 0;
  };
}

/** A tunneled connection closed. */
export function connectionClosed(): void {
  burst(1);
}

/**
 * A connection that ends moved `bytes` in all: every MiB counts as a close,
 * so bulk transfers on a few connections are a burst too (eight streams
 * downloading 512 MiB left RSS 80 MiB above idle until trimmed).
 */
export function trafficMoved(bytes: number): void {
  if (bytes >= MiB) burst(bytes / MiB);
}

const MiB = 1024 * 1024;

function burst(weight: number): void {
  if (!active) return;
  lastClose = performance.now();
  closes += weight;
  if (closes < MIN_CLOSES) return;
  step = 0; // a new burst (or more of this one): start the schedule again
  if (timer === undefined) arm(TRIM_AFTER_MS[0]);
}

function arm(ms: number): void {
  timer = setTimeout(check, ms);
  Deno.unrefTimer(timer); // never what keeps the process alive
}

function check(): void {
  timer = undefined;
  if (!active || !bound) return;
  const due = lastClose + TRIM_AFTER_MS[step] - performance.now();
  if (due > 0) return arm(due);
  bound.trim();
  closes = 0;
  if (++step < TRIM_AFTER_MS.length) arm(TRIM_AFTER_MS[step] - TRIM_AFTER_MS[step - 1]);
}

/** Whether a trim is scheduled (tests). */
export function trimScheduled(): boolean {
  return timer !== undefined;
}

/** Whether trimming is on (Linux with glibc and FFI permitted, after startMemoryTrim). */
export function memoryTrimActive(): boolean {
  return active;
}

/**
 * ssh2's `Channel.destroy()` without the thrown-away error.
 *
 * ssh2 1.17's `destroy()` is `this.end(); this.close()`. Node's stream
 * machinery calls it by itself once a channel has ended both ways
 * (autoDestroy), when the writable side has long finished, so `end()`
 * builds an ERR_STREAM_ALREADY_FINISHED error, stack trace and all, and
 * drops it. Under Deno that error was 12% of warren's CPU time when opening
 * short tunneled connections (`deno task bench --only connrate`).
 *
 * The replacement calls `end()` only when the writable side has not ended
 * yet, which is the one case where `end()` does anything, and keeps the
 * rest. `channel_destroy_test.ts` fails if ssh2's method no longer looks
 * like the one replaced here.
 */
// ssh2 internals; no types.
import channelModule from "ssh2/lib/Channel.js";

interface ChannelProto {
  writableEnded: boolean;
  end(): void;
  close(): void;
  destroy(): unknown;
}

const proto = (channelModule as unknown as { Channel: { prototype: ChannelProto } }).Channel
  .prototype;

/** ssh2's own destroy(), for the test. */
export const originalDestroy = proto.destroy;

/** The body ssh2 1.17's destroy() has; anything else is left alone. */
export const EXPECTED_BODY =
  /^destroy\(\)\s*\{\s*this\.end\(\);\s*this\.close\(\);\s*return this;\s*\}$/;

/** Whether the replacement is in place. */
export const destroyPatched = EXPECTED_BODY.test(String(originalDestroy));

if (destroyPatched) {
  proto.destroy = function (this: ChannelProto) {
    if (!this.writableEnded) this.end();
    this.close();
    return this;
  };
}

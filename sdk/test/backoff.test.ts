import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRetryAfter, retryDelay } from "../src/delivery/backoff.js";

const opts = { baseMs: 1000, maxMs: 30_000 };

describe("retryDelay", () => {
  it("grows exponentially with jitter between half and the full step", () => {
    assert.equal(retryDelay(1, undefined, opts, () => 0), 500);
    assert.equal(retryDelay(1, undefined, opts, () => 1), 1000);
    assert.equal(retryDelay(3, undefined, opts, () => 0), 2000);
    assert.equal(retryDelay(3, undefined, opts, () => 1), 4000);
  });

  it("is capped", () => {
    assert.equal(retryDelay(20, undefined, opts, () => 1), 30_000);
  });

  it("never retries before Retry-After", () => {
    for (const r of [0, 0.5, 1]) {
      const d = retryDelay(1, 7000, opts, () => r);
      assert.ok(d >= 7000 && d <= 8000, `delay ${d}`);
    }
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");
  it("reads seconds", () => assert.equal(parseRetryAfter("3", now), 3000));
  it("reads an HTTP date", () => assert.equal(parseRetryAfter("Wed, 01 Jan 2025 00:00:10 GMT", now), 10_000));
  it("ignores absent or junk values", () => {
    assert.equal(parseRetryAfter(null, now), undefined);
    assert.equal(parseRetryAfter("soon", now), undefined);
  });
});
